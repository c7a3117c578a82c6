/**
 * Model speed: load time, prompt (pp) and decode (tg) tokens/s and peak RSS for one
 * GGUF, in the llama-bench sense: pp evaluates a batch of N prompt tokens, tg
 * generates N tokens one at a time (greedy, through a session).
 *
 *   deno run -A bench/model_speed.ts <model.gguf> [--threads N] [--pp 512] [--tg 128] [--ctx 4096]
 *     [--warmup 1]
 *
 * Prints one JSON line. Run one process per configuration so peak RSS is per model.
 * Like llama-bench, it first runs a warm-up (a 32-token batch and one decode step on a
 * small cache of its own), so the timed runs use compiled-to-optimized kernels: V8 runs a
 * wasm function's first calls in its baseline tier. `--warmup 0` times a cold start.
 */
import { allocKvCache, loadModel } from "../src/model/mod.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}

/** Peak resident set size in bytes (Linux `VmHWM`), or undefined elsewhere. */
function peakRss(): number | undefined {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = status.match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const path = Deno.args[0];
  const threads = arg("threads", 1);
  const pp = arg("pp", 512);
  const tg = arg("tg", 128);
  const nCtx = arg("ctx", 4096);
  const warmup = arg("warmup", 1);

  const t0 = performance.now();
  const model = await loadModel(path, { threads, nCtx });
  const loadSeconds = (performance.now() - t0) / 1000;

  if (warmup > 0) {
    const small = allocKvCache(model.kernels, model.hparams, 64, "f16");
    const ids = Array.from({ length: 32 }, (_, i) => 100 + i);
    model.forward.eval(small, ids, 0, "last");
    model.forward.eval(small, [1], 32, "last");
  }

  // Prompt: pp tokens in one batch, from an empty cache (token ids are arbitrary).
  const cache = allocKvCache(model.kernels, model.hparams, nCtx, "f16");
  const prompt = Array.from(
    { length: pp },
    (_, i) => 100 + ((i * 7919) % 20000),
  );
  const t1 = performance.now();
  model.forward.eval(cache, prompt, 0, "last");
  const ppSeconds = (performance.now() - t1) / 1000;

  // Decode: tg tokens through a session, greedy, after a one-token prompt.
  const session = model.createSession({ nCtx });
  let generated = 0;
  let genStart = 0;
  for await (
    const chunk of session.generate([
      model.tokenizer.bos >= 0 ? model.tokenizer.bos : 1,
    ], {
      temperature: 0,
      maxTokens: tg,
      logitBias: { [model.tokenizer.eos]: -Infinity },
    })
  ) {
    if (generated === 0) genStart = performance.now();
    if (chunk.token >= 0) generated++;
  }
  // The first token comes from the prompt's logits; time the tg - 1 decode steps.
  const tgSeconds = (performance.now() - genStart) / 1000;

  const result = {
    model: path.split("/").pop(),
    threads,
    kernels: model.kernels.build.target + (model.kernels.build.relaxed ? "-relaxed" : ""),
    fileGB: Number(((await Deno.stat(path)).size / 1e9).toFixed(3)),
    loadSeconds: Number(loadSeconds.toFixed(2)),
    warmup: warmup > 0,
    ppTokensPerSecond: Number((pp / ppSeconds).toFixed(2)),
    tgTokensPerSecond: Number(((generated - 1) / tgSeconds).toFixed(2)),
    peakRssGB: Number(((peakRss() ?? NaN) / 1e9).toFixed(3)),
  };
  await model.close();
  // deno-lint-ignore no-console
  console.log(JSON.stringify(result));
}
