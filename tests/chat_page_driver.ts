/**
 * Drives the chat page in headless Chromium for `chat_page_e2e_test.ts` and prints what
 * it saw as JSON on stdout. It runs as a subprocess with full permissions because
 * playwright-core probes system paths at import time, which the test task does not allow.
 *
 *   deno run -A tests/chat_page_driver.ts <page url> <reply|stop|limits>
 */
import { chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** What the page showed after one scenario. */
export interface PageReport {
  replies: string[];
  /** Content events received per assistant message (from `data-chunks`). */
  chunks: number[];
  /** Finish reason per assistant message (from `data-finish`), "" when absent. */
  finishes: string[];
  userMessages: number;
  errorMessages: string[];
  status: string;
  /** Whether Send was disabled while a reply streamed, and after it ended. */
  sendDisabledWhileStreaming?: boolean;
  sendDisabledAfter?: boolean;
  pageErrors: string[];
}

async function waitForDone(page: Page, index: number): Promise<void> {
  await page.locator(".msg.assistant").nth(index).locator("xpath=self::*[@data-done='true']")
    .waitFor({ timeout: 30_000 });
}

async function send(page: Page, text: string, useEnter: boolean): Promise<void> {
  await page.fill("#input", text);
  if (useEnter) await page.press("#input", "Enter");
  else await page.click("#send");
}

async function report(page: Page, pageErrors: string[]): Promise<PageReport> {
  const assistant = page.locator(".msg.assistant");
  const count = await assistant.count();
  const replies: string[] = [];
  const chunks: number[] = [];
  const finishes: string[] = [];
  for (let i = 0; i < count; i++) {
    replies.push((await assistant.nth(i).textContent()) ?? "");
    chunks.push(Number(await assistant.nth(i).getAttribute("data-chunks")));
    finishes.push((await assistant.nth(i).getAttribute("data-finish")) ?? "");
  }
  return {
    replies,
    chunks,
    finishes,
    userMessages: await page.locator(".msg.user").count(),
    errorMessages: await page.locator(".msg.error").allTextContents(),
    status: (await page.textContent("#status")) ?? "",
    pageErrors,
  };
}

/** Sends two turns at temperature 0, the first with Enter and the second with the button. */
async function replyScenario(page: Page, pageErrors: string[]): Promise<PageReport> {
  await page.fill("#max-tokens", "40");
  await page.fill("#temperature", "0");
  await send(page, "Tell me a story about a cat.", true);
  await waitForDone(page, 0);
  await send(page, "And then?", false);
  await waitForDone(page, 1);
  return await report(page, pageErrors);
}

/**
 * Sends a message with max tokens 4, then one too long for the context with no limit set.
 */
async function limitsScenario(page: Page, pageErrors: string[]): Promise<PageReport> {
  await page.fill("#temperature", "0");
  await page.fill("#max-tokens", "4");
  await send(page, "hello", true);
  await waitForDone(page, 0);
  await page.fill("#max-tokens", "");
  await send(page, "word ".repeat(300), true);
  await page.locator(".msg.error").waitFor({ timeout: 30_000 });
  await page.locator("#send:not([disabled])").waitFor({ timeout: 30_000 });
  return await report(page, pageErrors);
}

/** Starts a long reply and stops it with the Stop button after a few chunks arrive. */
async function stopScenario(page: Page, pageErrors: string[]): Promise<PageReport> {
  await page.fill("#max-tokens", "200");
  await send(page, "hello", true);
  const reply = page.locator(".msg.assistant").nth(0);
  await reply.waitFor();
  for (let i = 0; i < 1000; i++) {
    if (Number(await reply.getAttribute("data-chunks")) > 3) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const sendDisabledWhileStreaming = await page.isDisabled("#send");
  await page.click("#stop");
  await waitForDone(page, 0);
  return {
    ...await report(page, pageErrors),
    sendDisabledWhileStreaming,
    sendDisabledAfter: await page.isDisabled("#send"),
  };
}

if (import.meta.main) {
  const [url, scenario] = Deno.args;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(url);
    const result = scenario === "stop"
      ? await stopScenario(page, pageErrors)
      : scenario === "limits"
      ? await limitsScenario(page, pageErrors)
      : await replyScenario(page, pageErrors);
    await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(result)));
  } finally {
    await browser.close();
  }
}
