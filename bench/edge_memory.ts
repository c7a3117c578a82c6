/**
 * Memory of the edge path. Serves a GGUF on 127.0.0.1 with Range support and loads it
 * the way deploy/app.ts does (from a URL, batch 64, one thread). Prints the file size,
 * the kernels' WebAssembly memory, and the process RSS after loading and after
 * generating 16 tokens.
 *
 *     deno run -A bench/edge_memory.ts <model.gguf> [n_ctx]
 */
import { loadModel } from "../mod.ts";
import { EDGE_BATCH_SIZE } from "../deploy/app.ts";
import { serveFiles } from "../tests/range_server.ts";

const [path, ctxArg] = Deno.args;
if (!path) {
  // deno-lint-ignore no-console
  console.error("usage: deno run -A bench/edge_memory.ts <model.gguf> [n_ctx]");
  Deno.exit(2);
}
const MiB = 2 ** 20;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

// The served bytes live in this process too, so RSS is measured before serving them and
// the file's size is subtracted below.
const bytes = await Deno.readFile(path);
const server = serveFiles({ "model.gguf": bytes });
const base = Deno.memoryUsage().rss;
const model = await loadModel(`${server.url}model.gguf`, {
  nCtx: ctxArg ? Number(ctxArg) : 2048,
  nBatch: EDGE_BATCH_SIZE,
  threads: 1,
});
const afterLoad = Deno.memoryUsage().rss;
const session = model.createSession();
for await (const _ of session.generate("Once upon a time", { maxTokens: 16 })) {
  // drain
}
const afterGenerate = Deno.memoryUsage().rss;
const rows = [
  ["file", mib(bytes.length)],
  ["n_ctx", String(model.nCtx)],
  ["wasm memory", mib(Number(model.kernels.memory.buffer.byteLength))],
  ["rss before load (runtime + served file)", mib(base)],
  ["rss growth after load", mib(afterLoad - base)],
  ["rss growth after 16 tokens", mib(afterGenerate - base)],
  ["estimated rss without the served file", mib(afterGenerate - bytes.length)],
];
for (const [name, value] of rows) {
  // deno-lint-ignore no-console
  console.log(`${name.padEnd(42)} ${value}`);
}
session.close();
await model.close();
await server.close();
