/**
 * Subprocess for tests: imports flint from the module URL given (the source `mod.ts` or
 * a bundle), loads a model and prints one JSON line with greedy tokens and what the
 * runtime offered.
 *
 *     deno run --allow-read tests/greedy_main.ts <module-url> <model-path> <steps> <threads> [grow]
 *
 * With `grow`, a second session whose KV cache does not fit the memory is created after
 * the fourth token, so the memory grows while the first stream is open.
 */
const [moduleUrl, modelPath, steps, threads, grow] = Deno.args;
/** KV cache positions of the extra session: about 128 MiB for stories260K. */
const GROW_CTX = 200_000;
const flint = await import(moduleUrl);
const model = await flint.loadModel(modelPath, { threads: Number(threads) });
const session = model.createSession();
const tokens: number[] = [];
let text = "";
let grewFrom = 0;
let grewTo = 0;
const stream = session.generate("Once upon a time", { temperature: 0, maxTokens: Number(steps) });
for await (const chunk of stream) {
  if (chunk.token !== -1) tokens.push(chunk.token);
  text += chunk.text;
  if (grow === "grow" && tokens.length === 4) {
    grewFrom = Number(model.kernels.memory.buffer.byteLength);
    model.createSession({ nCtx: GROW_CTX }).close();
    grewTo = Number(model.kernels.memory.buffer.byteLength);
  }
}
session.close();
const buffer = model.kernels.memory.buffer;
// deno-lint-ignore no-console
console.log(JSON.stringify({
  tokens,
  text,
  memory: Object.prototype.toString.call(buffer),
  // KernelPool has `threads`; the single-thread dispatcher does not.
  threads: model.forward.dispatcher.threads ?? 1,
  grewFrom,
  grewTo,
  worker: typeof Worker,
  sharedArrayBuffer: typeof SharedArrayBuffer,
}));
await model.close();
