/**
 * Deno Deploy entry: serves flint's OpenAI-compatible API for the model at
 * `FLINT_MODEL_URL`, loaded on the first request. Locally:
 *
 * ```sh
 * FLINT_MODEL_URL=https://example.com/stories260K.gguf \
 *   deno run --allow-net --allow-env --allow-read deploy/main.ts
 * ```
 *
 * Locally it listens on `PORT` (default 8000) at `FLINT_HOST` (default 0.0.0.0, every
 * interface; Deno Deploy picks its own). Logs go to stdout at info level; set
 * `FLINT_LOG_LEVEL=debug` for more. The repository's deno.json turns on
 * `no-legacy-abort`, which the handler relies on to see client disconnects without a
 * warning; elsewhere pass `--unstable-no-legacy-abort`.
 *
 * @module
 */
import { createEdgeApp } from "./app.ts";

const line = (level: string) => (message: string) =>
  // deno-lint-ignore no-console
  console.log(`${level} ${message}`);
const debug = Deno.env.get("FLINT_LOG_LEVEL")?.toLowerCase() === "debug";
const logger = {
  debug: debug ? line("DEBUG") : () => {},
  info: line("INFO"),
  warn: line("WARN"),
  error: line("ERROR"),
};

const app = createEdgeApp({ logger });
Deno.serve({
  hostname: Deno.env.get("FLINT_HOST") ?? "0.0.0.0",
  port: Number(Deno.env.get("PORT") ?? 8000),
  onListen: ({ hostname, port }) => logger.info(`listening on http://${hostname}:${port}`),
}, (request) => app.fetch(request));
