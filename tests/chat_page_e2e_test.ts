/**
 * The chat page in headless Chromium: with the real stories260K model, type a message,
 * watch the reply stream in and continue the conversation. The stop button is checked
 * against a slow stand-in model, since stories260K finishes before a click lands. Skips
 * when Debian's chromium is not installed at /usr/bin/chromium.
 */
import assert from "node:assert/strict";
import { createHandler, type HandlerOptions } from "../src/server/mod.ts";
import type { PageReport } from "./chat_page_driver.ts";
import { FakeModel } from "./fake_model.ts";

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
async function drive(options: HandlerOptions, scenario: "reply" | "stop"): Promise<PageReport> {
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
