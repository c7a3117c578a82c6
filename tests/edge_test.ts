/**
 * The edge paths: the esbuild bundle, the single-threaded fallback where Worker and
 * SharedArrayBuffer are missing, and the deploy/ fetch app that loads its model from
 * FLINT_MODEL_URL.
 */
import assert from "node:assert/strict";
import appDefault, { createEdgeApp } from "../deploy/app.ts";
import { serveFiles } from "./range_server.ts";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

const ROOT = new URL("../", import.meta.url);
const CONFIG = new URL("deno.json", ROOT).pathname;
const MODEL = "models/stories260K.gguf";
/** Greedy steps compared against llama.cpp's 200; fewer keep the test fast. */
const STEPS = 16;

interface Golden {
  prompt: string;
  greedy: { tokens: number[]; text: string };
}

async function golden(): Promise<Golden> {
  return JSON.parse(await Deno.readTextFile(testdataPath("golden/stories260K-greedy.json")));
}

interface GreedyResult {
  tokens: number[];
  text: string;
  memory: string;
  threads: number;
  grewFrom: number;
  grewTo: number;
  worker: string;
  sharedArrayBuffer: string;
}

/** Runs tests/greedy_main.ts in a fresh `deno run`, optionally without Worker and SAB. */
async function runGreedy(
  moduleUrl: string,
  options: { threads: number; noThreads?: boolean; importFrom?: string; grow?: boolean },
): Promise<GreedyResult> {
  const args = ["run", "--config", CONFIG, "--allow-read"];
  if (options.importFrom) {
    // The lock file would record the random test port's URLs and their hashes.
    args.push("--no-lock");
    args.push(
      `--allow-net=${options.importFrom}`,
      `--allow-import=${options.importFrom}`,
      `--reload=http://${options.importFrom}`,
    );
  }
  if (options.noThreads) args.push("--preload", new URL("tests/no_threads_preload.ts", ROOT).href);
  args.push(
    new URL("tests/greedy_main.ts", ROOT).pathname,
    moduleUrl,
    testdataPath(MODEL),
    String(STEPS),
    String(options.threads),
    options.grow ? "grow" : "",
  );
  const output = await new Deno.Command(Deno.execPath(), { args, stdin: "null" }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `greedy_main.ts failed:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

Deno.test({
  name: "fallback runs without Worker and SharedArrayBuffer",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const expected = await golden();
    const result = await runGreedy(new URL("mod.ts", ROOT).href, {
      threads: 2,
      noThreads: true,
      grow: true,
    });
    assert.equal(result.worker, "undefined");
    assert.equal(result.sharedArrayBuffer, "undefined");
    assert.equal(result.memory, "[object ArrayBuffer]");
    assert.equal(result.threads, 1);
    // A plain memory detaches its buffer when it grows; generation and close() go on.
    assert.ok(result.grewTo > result.grewFrom, `memory grew ${result.grewFrom} → ${result.grewTo}`);
    assert.deepEqual(result.tokens, expected.greedy.tokens.slice(0, STEPS));
  },
});

Deno.test({
  name: "bundle generates from stories260K",
  ignore: !HAVE_TESTDATA,
  async fn(t) {
    const expected = await golden();
    const outdir = await Deno.makeTempDir({ prefix: "flint-bundle-" });
    try {
      const build = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--config",
          CONFIG,
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          new URL("tools/bundle.ts", ROOT).pathname,
          "--outdir",
          outdir,
        ],
        stdin: "null",
      }).output();
      assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));

      const files = [];
      for await (const entry of Deno.readDir(outdir)) files.push(entry.name);
      assert.deepEqual(files.sort(), [
        "edge.js",
        "flint-wasm32-relaxed.wasm",
        "flint-wasm32-simd128.wasm",
        "flint-wasm64-relaxed.wasm",
        "flint-wasm64-simd128.wasm",
        "flint.js",
      ]);
      const bundle = new URL(`file://${outdir}/flint.js`).href;

      await t.step("on worker threads", async () => {
        const result = await runGreedy(bundle, { threads: 2 });
        assert.equal(result.threads, 2);
        assert.equal(result.memory, "[object SharedArrayBuffer]");
        assert.deepEqual(result.tokens, expected.greedy.tokens.slice(0, STEPS));
      });
      await t.step("without Worker and SharedArrayBuffer", async () => {
        const result = await runGreedy(bundle, { threads: 2, noThreads: true });
        assert.equal(result.threads, 1);
        assert.equal(result.memory, "[object ArrayBuffer]");
        assert.deepEqual(result.tokens, expected.greedy.tokens.slice(0, STEPS));
      });
      await t.step("edge.js serves a completion from a model URL", async () => {
        const server = serveFiles({ "stories260K.gguf": await Deno.readFile(testdataPath(MODEL)) });
        try {
          const output = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--allow-read",
              "--allow-net=127.0.0.1",
              new URL("tests/edge_bundle_main.ts", ROOT).pathname,
              new URL(`file://${outdir}/edge.js`).href,
              `${server.url}stories260K.gguf`,
              String(STEPS),
            ],
            stdin: "null",
          }).output();
          assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
          const { status, body } = JSON.parse(new TextDecoder().decode(output.stdout));
          assert.equal(status, 200, JSON.stringify(body));
          assert.equal(body.usage.completion_tokens, STEPS);
          assert.ok(expected.greedy.text.startsWith(body.choices[0].text), body.choices[0].text);
        } finally {
          await server.close();
        }
      });
    } finally {
      await Deno.remove(outdir, { recursive: true });
    }
  },
});

const CONTENT_TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".wasm": "application/wasm",
};

Deno.test({
  name: "raw URL import fetches kernels and worker",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const expected = await golden();
    // Serves the repository as a static host would, so mod.ts is imported by URL.
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      const type = CONTENT_TYPES[path.slice(path.lastIndexOf("."))];
      if (path.includes("..") || type === undefined) return new Response(null, { status: 404 });
      try {
        return new Response(await Deno.readFile(new URL(`.${path}`, ROOT)), {
          headers: { "content-type": type },
        });
      } catch {
        return new Response(null, { status: 404 });
      }
    });
    try {
      const host = `127.0.0.1:${server.addr.port}`;
      const result = await runGreedy(`http://${host}/mod.ts`, { threads: 2, importFrom: host });
      assert.equal(result.threads, 2);
      assert.deepEqual(result.tokens, expected.greedy.tokens.slice(0, STEPS));
    } finally {
      await server.shutdown();
    }
  },
});

function completionRequest(body: unknown): Request {
  return new Request("http://edge.test/v1/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test({
  name: "edge app loads FLINT_MODEL_URL on first request",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const expected = await golden();
    const bytes = await Deno.readFile(testdataPath(MODEL));
    const server = serveFiles({ "models/stories260K.gguf": bytes });
    const env: Record<string, string> = {
      FLINT_MODEL_URL: `${server.url}models/stories260K.gguf`,
      FLINT_MODEL_ALIAS: "tiny",
      FLINT_CTX_SIZE: "256",
    };
    const app = createEdgeApp({ env: (name) => env[name], threads: 1 });
    try {
      assert.equal(server.requests.length, 0, "nothing is fetched before the first request");
      const response = await app.fetch(
        completionRequest({ prompt: expected.prompt, max_tokens: STEPS, temperature: 0 }),
      );
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.model, "tiny");
      assert.equal(body.usage.completion_tokens, STEPS);
      const text: string = body.choices[0].text;
      assert.ok(text.length > 0, "some text is generated");
      assert.ok(expected.greedy.text.startsWith(text), `${JSON.stringify(text)} continues wrongly`);

      const model = await app.ready();
      assert.equal(model.nCtx, 256);
      for (const request of server.requests) assert.match(request.range ?? "", /^bytes=\d+-\d+$/);
      assert.ok(server.bytesSent() <= bytes.length + (1 << 20), "the file is fetched once");
    } finally {
      await app.close();
      await server.close();
    }
  },
});

Deno.test("edge app answers 503 without FLINT_MODEL_URL", async () => {
  const env: Record<string, string> = {};
  const app = createEdgeApp({ env: (name) => env[name], threads: 1 });
  const response = await app.fetch(new Request("http://edge.test/health"));
  assert.equal(response.status, 503);
  const body = await response.json();
  assert.match(body.error.message, /FLINT_MODEL_URL is not set/);

  env.FLINT_CTX_SIZE = "many";
  env.FLINT_MODEL_URL = "https://example.invalid/m.gguf";
  const invalid = await app.fetch(new Request("http://edge.test/health"));
  assert.equal(invalid.status, 503);
  assert.match((await invalid.json()).error.message, /invalid FLINT_CTX_SIZE "many"/);
  await app.close();
});

Deno.test("edge default export reads host bindings", async () => {
  const response = await appDefault.fetch(new Request("http://edge.test/health"), {
    FLINT_MODEL_URL: "",
  });
  assert.equal(response.status, 503);
  assert.match((await response.json()).error.message, /FLINT_MODEL_URL is not set/);
});
