/**
 * Server overhead: generation speed of stories260K through the HTTP handler (streamed SSE
 * over a loopback socket) against calling the session directly, and aggregate speed with
 * several slots. Prints one table row per case.
 *
 *   deno run -A bench/server_bench.ts [model.gguf]
 */
import { loadModel } from "../mod.ts";
import { createHandler } from "../src/server/mod.ts";

const path = Deno.args[0] ??
  new URL("../../shared/testdata/models/stories260K.gguf", import.meta.url).pathname;
const TOKENS = 100;
const ROUNDS = 20;
const model = await loadModel(path, { threads: 1, nCtx: 128 });
const prompt = "Once upon a time";

// Warm up the JIT and the kernels so the first case is not penalised.
for await (const _ of model.createSession().generate(prompt, { maxTokens: TOKENS })) {
  // Drain.
}

async function direct(): Promise<number> {
  const session = model.createSession();
  const started = performance.now();
  let tokens = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for await (const chunk of session.generate(prompt, { maxTokens: TOKENS, seed: round })) {
      if (chunk.token >= 0) tokens++;
    }
  }
  return tokens / ((performance.now() - started) / 1000);
}

async function overHttp(slots: number, concurrency: number): Promise<number> {
  const handler = createHandler({ model, slots, queueSize: 64 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/v1/completions`;
  let tokens = 0;
  const one = async (seed: number) => {
    const response = await fetch(url, {
      method: "POST",
      body: JSON.stringify({
        prompt,
        max_tokens: TOKENS,
        seed,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const text = await response.text();
    const usage = /"completion_tokens":(\d+)/.exec(text);
    tokens += Number(usage?.[1] ?? 0);
  };
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round += concurrency) {
    await Promise.all(Array.from({ length: concurrency }, (_, i) => one(round + i)));
  }
  const rate = tokens / ((performance.now() - started) / 1000);
  await server.shutdown();
  return rate;
}

const rows: [string, number][] = [
  ["session.generate, no HTTP", await direct()],
  ["HTTP streamed, 1 slot, 1 client", await overHttp(1, 1)],
  ["HTTP streamed, 4 slots, 4 clients", await overHttp(4, 4)],
];
// deno-lint-ignore no-console
console.log(`| case | tokens/s |\n| --- | ---: |`);
for (const [name, rate] of rows) {
  // deno-lint-ignore no-console
  console.log(`| ${name} | ${rate.toFixed(0)} |`);
}
await model.close();
