/**
 * Subprocess for tests: imports flint from the module URL given (the source `mod.ts` or
 * a bundle), loads a model and prints one JSON line with greedy tokens and what the
 * runtime offered.
 *
 *     deno run --allow-read tests/greedy_main.ts <module-url> <model-path> <steps> <threads>
 */
const [moduleUrl, modelPath, steps, threads] = Deno.args;
const flint = await import(moduleUrl);
const model = await flint.loadModel(modelPath, { threads: Number(threads) });
const session = model.createSession();
const tokens: number[] = [];
let text = "";
const stream = session.generate("Once upon a time", { temperature: 0, maxTokens: Number(steps) });
for await (const chunk of stream) {
  if (chunk.token !== -1) tokens.push(chunk.token);
  text += chunk.text;
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
  worker: typeof Worker,
  sharedArrayBuffer: typeof SharedArrayBuffer,
}));
await model.close();
