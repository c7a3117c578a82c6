/**
 * Deno Deploy entry: serves flint's OpenAI-compatible API for the model at
 * `FLINT_MODEL_URL`, loaded on the first request. Locally:
 *
 * ```sh
 * FLINT_MODEL_URL=https://example.com/stories260K.gguf \
 *   deno run --allow-net --allow-env --allow-read deploy/main.ts
 * ```
 *
 * @module
 */
import { createEdgeApp } from "./app.ts";

const line = (level: string) => (message: string) =>
  // deno-lint-ignore no-console
  console.log(`${level} ${message}`);
const logger = {
  debug: line("DEBUG"),
  info: line("INFO"),
  warn: line("WARN"),
  error: line("ERROR"),
};

const app = createEdgeApp({ logger });
Deno.serve((request) => app.fetch(request));
