/**
 * Runs one GGUF through flint (bench/model_speed.ts) and through llama.cpp
 * (node-llama-cpp's prebuilt binary, bench/compare/llama_cpp.mjs) with the same thread
 * count, and prints both with the flint / llama.cpp ratios.
 *
 *   (cd bench/compare && npm install --ignore-scripts)   # once; prebuilt binaries come from npm
 *   deno run -A bench/compare/compare.ts <model.gguf> [--threads 2] [--pp 512] [--tg 128] [--ctx 4096]
 */
const here = new URL(".", import.meta.url).pathname;

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}

async function runJson(
  cmd: string,
  args: string[],
): Promise<Record<string, number>> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed with code ${out.code}`);
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

if (import.meta.main) {
  const path = Deno.args[0];
  const threads = arg("threads", 2);
  const pp = arg("pp", 512);
  const tg = arg("tg", 128);
  const ctx = arg("ctx", 4096);
  const flint = await runJson(Deno.execPath(), [
    "run",
    "-A",
    `${here}../model_speed.ts`,
    path,
    "--threads",
    String(threads),
    "--pp",
    String(pp),
    "--tg",
    String(tg),
    "--ctx",
    String(ctx),
  ]);
  const llama = await runJson("node", [
    `${here}llama_cpp.mjs`,
    path,
    String(threads),
    String(pp),
    String(tg),
    String(ctx),
  ]);
  const rows = [
    ["load s", flint.loadSeconds, llama.loadSeconds],
    [`pp${pp} tok/s`, flint.ppTokensPerSecond, llama.ppTokensPerSecond],
    [`tg${tg} tok/s`, flint.tgTokensPerSecond, llama.tgTokensPerSecond],
  ];
  // deno-lint-ignore no-console
  console.log(`${path.split("/").pop()}, ${threads} thread(s)`);
  for (const [name, a, b] of rows) {
    // deno-lint-ignore no-console
    console.log(
      `${String(name).padEnd(14)} flint ${String(a).padStart(8)}  llama.cpp ${
        String(b).padStart(8)
      }  ratio ${(Number(a) / Number(b)).toFixed(2)}`,
    );
  }
}
