/**
 * The chat page in headless Chromium: with the real stories260K model, type a message,
 * watch the reply stream in and continue the conversation. The stop button is checked
 * against a slow stand-in model, since stories260K finishes before a click lands. Skips
 * when Debian's chromium is not installed at /usr/bin/chromium.
 */
import assert from "node:assert/strict";
import { loadModel } from "../mod.ts";
import { createHandler, type HandlerOptions } from "../src/server/mod.ts";
import type { PageReport } from "./chat_page_driver.ts";
import { FakeModel } from "./fake_model.ts";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

const CHROMIUM = "/usr/bin/chromium";
const DRIVER = new URL("./chat_page_driver.ts", import.meta.url).pathname;

function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const HAVE_CHROMIUM = haveChromium();
if (!HAVE_CHROMIUM) {
  // deno-lint-ignore no-console
  console.warn(
    `skipping the chat page browser tests: ${CHROMIUM} not found (apt-get install chromium)`,
  );
}

/** Serves the handler on loopback and runs one driver scenario against it. */
async function drive(
  options: HandlerOptions,
  scenario: "reply" | "stop" | "limits",
): Promise<PageReport> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createHandler(options),
  );
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DRIVER, `http://127.0.0.1:${server.addr.port}/`, scenario],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `browser driver failed:\n${stderr}`);
    return JSON.parse(new TextDecoder().decode(output.stdout));
  } finally {
    await server.shutdown();
  }
}

Deno.test({
  name: "chat page stop button cancels generation",
  ignore: !HAVE_CHROMIUM,
  async fn() {
    const model = new FakeModel({ tokenDelayMs: 20 });
    const page = await drive({ model }, "stop");
    assert.ok(page.chunks[0] > 3, `only ${page.chunks[0]} chunks arrived`);
    assert.equal(page.sendDisabledWhileStreaming, true);
    assert.equal(page.status, "stopped");
    assert.equal(page.sendDisabledAfter, false);
    assert.deepEqual(page.errorMessages, []);
    assert.deepEqual(page.pageErrors, []);
    // The server stopped generating when the page aborted its fetch.
    assert.equal(model.active, 0);
    assert.ok(model.tokensProduced < 200, `${model.tokensProduced} tokens were generated`);
  },
});

Deno.test({
  name: "chat page streams a reply in chromium",
  ignore: !HAVE_TESTDATA || !HAVE_CHROMIUM,
  async fn() {
    const model = await loadModel(testdataPath("models/stories260K.gguf"), { threads: 1 });
    const lines: string[] = [];
    const log = (message: string) => lines.push(message);
    try {
      const page = await drive(
        // The GGUF declares 128 positions, too few for two chat turns, but the model was trained on 512.
        { model, nCtx: 512, logger: { debug() {}, info: log, warn: log, error: log } },
        "reply",
      );
      assert.equal(page.replies.length, 2);
      assert.ok(page.replies[0].length > 0, "the first reply is empty");
      assert.ok(page.replies[1].length > 0, "the second reply is empty");
      assert.ok(page.chunks[0] > 5, `the reply arrived in ${page.chunks[0]} chunks`);
      assert.match(page.status, /^\d+ tokens in [\d.]+ s/);
      assert.equal(page.userMessages, 2);
      assert.deepEqual(page.errorMessages, []);
      assert.deepEqual(page.pageErrors, []);
      const chatLines = lines.filter((l) => l.startsWith("POST /v1/chat/completions 200"));
      assert.equal(chatLines.length, 2, lines.join("\n"));
      const promptTokens = chatLines.map((l) => Number(/in=(\d+)/.exec(l)?.[1]));
      assert.ok(promptTokens[1] > promptTokens[0], "the second request carries the history");
    } finally {
      await model.close();
    }
  },
});

Deno.test({
  name: "chat page marks cut-off replies and reports context overflow",
  ignore: !HAVE_TESTDATA || !HAVE_CHROMIUM,
  async fn() {
    const model = await loadModel(testdataPath("models/stories260K.gguf"), { threads: 1 });
    try {
      const page = await drive({ model }, "limits");
      // The second message gets an error and no empty assistant bubble.
      assert.equal(page.replies.length, 1, JSON.stringify(page));
      assert.equal(page.finishes[0], "length");
      assert.equal(page.errorMessages.length, 1);
      assert.match(page.errorMessages[0], /context.*\(press New chat or send a shorter message\)/);
      assert.equal(page.userMessages, 2);
      assert.deepEqual(page.pageErrors, []);
    } finally {
      await model.close();
    }
  },
});
