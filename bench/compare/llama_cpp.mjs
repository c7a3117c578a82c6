// deno-lint-ignore-file no-console
// Measures llama.cpp (through node-llama-cpp's prebuilt CPU binary) the way
// bench/model_speed.ts measures flint: load time, a pp-token prompt batch and tg greedy
// decode steps, on a given thread count. Prints one JSON line.
//
//   node bench/compare/llama_cpp.mjs <model.gguf> <threads> <pp> <tg> <ctx>
import { getLlama } from "node-llama-cpp";

const [path, threadsArg, ppArg, tgArg, ctxArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const pp = Number(ppArg);
const tg = Number(tgArg);

const llama = await getLlama({ build: "never", gpu: false, logLevel: "error" });
const t0 = performance.now();
const model = await llama.loadModel({ modelPath: path, useMmap: true });
const context = await model.createContext({
  contextSize: Number(ctxArg),
  batchSize: Math.max(pp, 1),
  threads,
});
const loadSeconds = (performance.now() - t0) / 1000;

const prompt = Array.from({ length: pp }, (_, i) => 100 + ((i * 7919) % 20000));
let sequence = context.getSequence();
const t1 = performance.now();
await sequence.evaluateWithoutGeneratingNewTokens(prompt);
const ppSeconds = (performance.now() - t1) / 1000;
sequence.dispose();

sequence = context.getSequence();
let generated = 0;
let genStart = 0;
for await (const _token of sequence.evaluate([1], { temperature: 0 })) {
  if (generated === 0) genStart = performance.now();
  generated++;
  if (generated >= tg) break;
}
const tgSeconds = (performance.now() - genStart) / 1000;

console.log(JSON.stringify({
  threads,
  loadSeconds: Number(loadSeconds.toFixed(2)),
  ppTokensPerSecond: Number((pp / ppSeconds).toFixed(2)),
  tgTokensPerSecond: Number(((generated - 1) / tgSeconds).toFixed(2)),
}));
await context.dispose();
await model.dispose();
