/**
 * `deno task synth <shape> <mix> <out.gguf> [--vocab <gguf>] [--seed N]`: writes a
 * random-weight llama GGUF for benchmarks. Shapes: mistral-7b, tinyllama-1.1b,
 * small-32k, micro. Mixes: llama-quantize names (Q4_K_M, Q8_0, Q2_K, F16, …). The
 * 32000-token shapes copy the Llama SentencePiece vocabulary from the shared test data
 * when it is present, otherwise they get a synthetic one.
 */
import { MIXES, SHAPES, synthesize } from "../src/synth/mod.ts";

const DEFAULT_VOCAB = new URL(
  "../../shared/testdata/vocab/ggml-vocab-llama-spm.gguf",
  import.meta.url,
).pathname;

function usage(problem?: string): never {
  // deno-lint-ignore no-console
  console.error(
    (problem ? `error: ${problem}\n` : "") +
      `usage: deno task synth <shape> <mix> <out.gguf> [--vocab <gguf>|--no-vocab] [--seed N]\n` +
      `  shapes: ${Object.keys(SHAPES).join(", ")}\n  mixes: ${Object.keys(MIXES).join(", ")}`,
  );
  Deno.exit(2);
}

if (import.meta.main) {
  const positional: string[] = [];
  let vocab: string | undefined | null;
  let seed = 1;
  const args = [...Deno.args];
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === "--vocab") vocab = args.shift() ?? usage("--vocab needs a GGUF path");
    else if (a === "--no-vocab") vocab = null;
    else if (a === "--seed") {
      const raw = args.shift();
      seed = Number(raw);
      if (raw === undefined || !Number.isInteger(seed)) {
        usage(`invalid --seed '${raw ?? ""}': expected an integer`);
      }
    } else if (a.startsWith("--")) usage(`unknown option '${a}'`);
    else positional.push(a);
  }
  if (positional.length !== 3) {
    const names = ["<shape>", "<mix>", "<out.gguf>"];
    usage(
      positional.length < 3
        ? `missing ${names.slice(positional.length).join(" ")}`
        : `unexpected argument '${positional[3]}'`,
    );
  }
  const [shapeName, mixName, out] = positional;
  const shape = Object.hasOwn(SHAPES, shapeName) ? SHAPES[shapeName] : undefined;
  if (!shape) usage(`unknown shape '${shapeName}'`);
  if (!Object.hasOwn(MIXES, mixName)) usage(`unknown mix '${mixName}'`);
  if (vocab === undefined && shape.nVocab === 32000) {
    try {
      Deno.statSync(DEFAULT_VOCAB);
      vocab = DEFAULT_VOCAB;
    } catch {
      vocab = null;
    }
  }
  const started = performance.now();
  let lastReport = 0;
  const size = await synthesize(shapeName, mixName, out, {
    vocabFrom: vocab ?? undefined,
    seed,
    onProgress(written, total) {
      const now = performance.now();
      if (now - lastReport > 2000) {
        lastReport = now;
        // deno-lint-ignore no-console
        console.error(`  ${(written / 1e9).toFixed(2)} / ${(total / 1e9).toFixed(2)} GB`);
      }
    },
  });
  // deno-lint-ignore no-console
  console.log(
    `wrote ${out}: ${shapeName} ${mixName}, ${(size / 1e9).toFixed(3)} GB in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}
