/** The missing-reference-data warning appears once per `deno test` run, not once per file. */
import assert from "node:assert/strict";

const TESTDATA_MODULE = new URL("./testdata.ts", import.meta.url).href;

Deno.test("testdata warning prints once per run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flint-testdata-test-" });
  try {
    for (const name of ["a_test.ts", "b_test.ts", "c_test.ts"]) {
      await Deno.writeTextFile(
        `${dir}/${name}`,
        `import { HAVE_TESTDATA } from "${TESTDATA_MODULE}";\n` +
          `Deno.test({ name: "${name}", ignore: !HAVE_TESTDATA, fn() {} });\n`,
      );
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-read", "--allow-env", "--no-config", dir],
      env: { NO_COLOR: "1", FLINT_TESTDATA_DIR: `${dir}/missing` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, text);
    const warnings = text.match(/skipping tests that need reference data/g) ?? [];
    assert.equal(warnings.length, 1, text);
    assert.match(text, /3 ignored/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
