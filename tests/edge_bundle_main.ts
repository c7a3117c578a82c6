/**
 * Subprocess for tests: imports the bundled fetch app (`edge.js`), passes the model URL
 * as a host binding the way module-style hosts do, and prints the JSON body of one
 * greedy `/v1/completions` response.
 *
 *     deno run --allow-read --allow-net=127.0.0.1 tests/edge_bundle_main.ts <edge.js URL> <model URL> <tokens>
 */
const [edgeUrl, modelUrl, maxTokens] = Deno.args;
const app = (await import(edgeUrl)).default;
const response: Response = await app.fetch(
  new Request("http://edge.test/v1/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt: "Once upon a time",
      max_tokens: Number(maxTokens),
      temperature: 0,
    }),
  }),
  { FLINT_MODEL_URL: modelUrl },
);
// deno-lint-ignore no-console
console.log(JSON.stringify({ status: response.status, body: await response.json() }));
