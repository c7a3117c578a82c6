/**
 * The published package: mod.ts documentation passes `deno doc --lint`, and
 * `deno publish --dry-run` accepts the package (no slow types) with the kernels'
 * `.wasm` files in it and the tests left out.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("mod.ts passes deno doc --lint", async () => {
  const { code, output } = await deno(["doc", "--lint", "mod.ts"]);
  assert.equal(code, 0, output);
});

Deno.test("publish dry run includes the kernels", async () => {
  const { code, output } = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(code, 0, output);
  const files = [...output.matchAll(/file:\/\/\S+/g)].map((m) =>
    m[0].slice(`file://${ROOT}`.length)
  );
  for (const target of ["wasm32", "wasm64"]) {
    for (const variant of ["simd128", "relaxed"]) {
      assert.ok(files.includes(`kernels/flint-${target}-${variant}.wasm`), `${target} ${variant}`);
    }
  }
  assert.ok(files.includes("mod.ts"));
  assert.ok(files.includes("src/library/load.ts"));
  assert.deepEqual(files.filter((f) => f.endsWith("_test.ts")), [], "no test files");
});
