/** `deno task synth` argument errors say what was wrong, not only the usage. */
import assert from "node:assert/strict";

const SYNTH = new URL("../tools/synth.ts", import.meta.url).pathname;

async function synth(args: string[]): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", SYNTH, ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("synth names the missing or invalid argument", async () => {
  const cases: [string[], RegExp][] = [
    [["tinyllama-1.1b", "Q4_K_M"], /^error: missing <out\.gguf>\n/],
    [[], /^error: missing <shape> <mix> <out\.gguf>\n/],
    [["micro", "Q9_K", "x.gguf"], /^error: unknown mix 'Q9_K'\n/],
    [["tiny", "Q8_0", "x.gguf"], /^error: unknown shape 'tiny'\n/],
    [["micro", "Q8_0", "x.gguf", "--seed", "x"], /^error: invalid --seed 'x'/],
    [["micro", "Q8_0", "x.gguf", "--fast"], /^error: unknown option '--fast'\n/],
  ];
  for (const [args, expected] of cases) {
    const { code, stderr } = await synth(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, expected, args.join(" "));
    assert.match(stderr, /usage: deno task synth <shape> <mix> <out\.gguf>/);
  }
});
