import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** Runs `deno run cli.ts inspect <arg>` as `deno task inspect` does. */
async function inspect(arg: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-net=127.0.0.1", "--allow-env", CLI, "inspect", arg],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test({
  name: "cli inspect prints a local file",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const result = await inspect(testdataPath("models/stories260K.gguf"));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^GGUF version 3/m);
    assert.match(result.stdout, /^parameters: 292,800 .* bits per weight: 32\.00$/m);
  },
});

Deno.test({
  name: "cli inspect reads a URL",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath("models/micro-Q8_0.gguf"));
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(bytes, { headers: { "content-length": String(bytes.length) } }),
    );
    try {
      const result = await inspect(`http://127.0.0.1:${server.addr.port}/micro-Q8_0.gguf`);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^file: http:\/\/127\.0\.0\.1:\d+\/micro-Q8_0\.gguf$/m);
      assert.match(result.stdout, /^\s+Q8_0: 16 tensors/m);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test("cli inspect reports a malformed file in one line", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await Deno.writeFile(path, new TextEncoder().encode("GGUF\x01\x00\x00\x00"));
    const result = await inspect(path);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error: unsupported GGUF version/);
    assert.match(result.stderr, /version 1/);
    assert.equal(result.stderr.trim().split("\n").length, 1, "no stack trace");
  } finally {
    await Deno.remove(path);
  }
});
