/**
 * deploy/main.ts run as a user runs it locally: its own process, the model from a
 * loopback URL, the address from PORT and FLINT_HOST.
 */
import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

const MAIN = new URL("../deploy/main.ts", import.meta.url).pathname;

Deno.test({
  name: "deploy entry logs its address at info level and serves the file's model id",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath("models/stories260K.gguf"));
    const files = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(bytes),
    );
    const child = new Deno.Command(Deno.execPath(), {
      // No --unstable-no-legacy-abort: the repository's deno.json turns it on.
      args: ["run", "--allow-net", "--allow-env", "--allow-read", MAIN],
      env: {
        NO_COLOR: "1",
        PORT: "0",
        FLINT_HOST: "127.0.0.1",
        FLINT_MODEL_URL: `http://127.0.0.1:${files.addr.port}/stories260K.gguf`,
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    try {
      let url: string | undefined;
      while (url === undefined) {
        const { done, value } = await stdout.read();
        if (done) break;
        seen += value;
        url = /INFO listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen)?.[1];
      }
      assert.ok(url, seen);
      const models = await (await fetch(`${url}/v1/models`)).json();
      assert.deepEqual(models.data.map((m: { id: string }) => m.id), ["stories260K"]);
      const completion = await fetch(`${url}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ prompt: "Once", max_tokens: 3 }),
      });
      assert.equal(completion.status, 200);
      await completion.body?.cancel();
    } finally {
      child.kill("SIGTERM");
      await child.status;
      for (;;) {
        const { done, value } = await stdout.read();
        if (done) break;
        seen += value;
      }
      await files.shutdown();
    }
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.ok(!seen.includes("DEBUG"), seen);
    assert.ok(!/legacy/i.test(stderr), stderr);
  },
});
