/**
 * A generation lets the event loop run between tokens: a consumer that never awaits I/O
 * still gets its timers run and a timed-out signal stop the stream mid-generation. Without
 * that, an HTTP server sent no byte of a streamed response before generation ended.
 */
import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";
import { loadModel } from "../src/model/mod.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

Deno.test({
  name: "timers run between tokens",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const model = await loadModel(testdataPath("models/stories260K.gguf"), {
      nCtx: 512,
      threads: 1,
      logger: quiet,
    });
    try {
      const session = model.createSession();
      let count = 0;
      let countWhenTimerFired: number | undefined;
      const timer = setTimeout(() => countWhenTimerFired = count, 0);
      const started = performance.now();
      for await (const chunk of session.generate("Once upon a time", { maxTokens: 400 })) {
        if (chunk.token >= 0) count++;
      }
      clearTimeout(timer);
      const ms = performance.now() - started;
      // The timer is due after about 2 ms, so it fires within the first few dozen tokens.
      assert.equal(count, 400);
      assert.notEqual(countWhenTimerFired, undefined, `no timer ran during ${ms.toFixed(0)} ms`);
      assert.ok(countWhenTimerFired! < count, `timer ran after token ${countWhenTimerFired}`);

      // A signal that times out mid-generation stops it, with a consumer that awaits nothing.
      const signal = AbortSignal.timeout(5);
      let got = 0;
      await assert.rejects(async () => {
        for await (
          const chunk of session.generate("Once upon a time", { maxTokens: 400, signal })
        ) {
          if (chunk.token >= 0) got++;
        }
      }, (error: unknown) => error instanceof DOMException && error.name === "TimeoutError");
      assert.ok(got < 400, `the stream ran to the end (${got} tokens) despite the timeout`);
    } finally {
      await model.close();
    }
  },
});
