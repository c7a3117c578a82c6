/**
 * Decode profile: where one decoded token's time goes, per kernel and shape. Loads a
 * GGUF, evaluates single tokens through `LlamaForward.eval` and times every dispatcher
 * call. The timing wraps the model's pool, so the kernels and their results are unchanged.
 *
 *   deno run -A bench/decode_profile.ts <model.gguf> [--threads 2] [--tokens 16] [--batch 1]
 *
 * With `--batch N` (N > 1) it times `--tokens` prompt batches of N tokens each instead,
 * still reported per token.
 * Prints one line per kernel and row count (matvecs also by weight type `t` and
 * columns `c`): ms per token, µs per call, calls per token; then the total ms per token
 * and the part outside dispatched kernels (activation quantization and JS).
 */
import { allocKvCache, loadModel } from "../src/model/mod.ts";
import type { Dispatcher } from "../src/kernels/ops.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}

if (import.meta.main) {
  const path = Deno.args[0];
  const threads = arg("threads", 2);
  const batch = arg("batch", 1);
  const tokens = batch > 1 ? arg("tokens", 2) * batch : arg("tokens", 16);
  const nCtx = tokens + 8;
  const model = await loadModel(path, { threads, nCtx });
  const cache = allocKvCache(model.kernels, model.hparams, nCtx, "f16");
  const forward = model.forward;
  const dispatcher: Dispatcher = forward.dispatcher;
  const run = dispatcher.run.bind(dispatcher);
  // Total milliseconds and call count per kernel key.
  const times = new Map<string, [number, number]>();
  let timing = false;
  dispatcher.run = (name, args, nRows, grain) => {
    if (!timing) return run(name, args, nRows, grain);
    const t0 = performance.now();
    const result = run(name, args, nRows, grain);
    const ms = performance.now() - t0;
    const key = name === "flint_matvec"
      ? `${name} ${nRows} t${args[0]} c${args[5]}`
      : `${name} ${nRows}`;
    const entry = times.get(key) ?? [0, 0];
    entry[0] += ms;
    entry[1]++;
    times.set(key, entry);
    return result;
  };

  forward.eval(cache, [1], 0, "last"); // warm-up
  timing = true;
  const t0 = performance.now();
  for (let i = 1; i <= tokens; i += batch) {
    const ids = Array.from({ length: batch }, (_, j) => 100 + ((i + j) % 1000));
    forward.eval(cache, ids, i, "last");
  }
  const perToken = (performance.now() - t0) / tokens;
  timing = false;

  let dispatched = 0;
  const lines: string[] = [];
  for (const [key, [ms, calls]] of [...times].sort((a, b) => b[1][0] - a[1][0])) {
    dispatched += ms / tokens;
    lines.push(
      `${key.padEnd(34)} ${(ms / tokens).toFixed(2).padStart(8)} ms/token ` +
        `${(ms * 1000 / calls).toFixed(1).padStart(8)} µs/call ${(calls / tokens).toFixed(0)}`,
    );
  }
  lines.push(
    `total ${perToken.toFixed(2)} ms/token, outside kernels ${
      (perToken - dispatched).toFixed(2)
    } ms`,
  );
  await model.close();
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
}
