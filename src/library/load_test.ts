import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { serveFiles } from "../../tests/range_server.ts";
import { GgufError, readGguf } from "../gguf/mod.ts";
import { ModelSourceError } from "../hub/mod.ts";
import type { Model } from "../model/mod.ts";
import { loadModel } from "./load.ts";

const MODEL = "models/stories260K.gguf";
/** Greedy tokens compared against llama.cpp's. Fewer than the golden 200 keep the tests fast. */
const STEPS = 16;

interface Golden {
  prompt: string;
  greedy: { tokens: number[] };
}

async function golden(): Promise<Golden> {
  return JSON.parse(await Deno.readTextFile(testdataPath("golden/stories260K-greedy.json")));
}

/** Generates `STEPS` greedy tokens, checks them against llama.cpp's and closes the model. */
async function assertGreedy(model: Model): Promise<void> {
  const expected = await golden();
  try {
    const session = model.createSession();
    const tokens: number[] = [];
    const stream = session.generate(expected.prompt, { temperature: 0, maxTokens: STEPS });
    for await (const chunk of stream) if (chunk.token !== -1) tokens.push(chunk.token);
    session.close();
    assert.deepEqual(tokens, expected.greedy.tokens.slice(0, STEPS));
  } finally {
    await model.close();
  }
}

Deno.test({
  name: "loadModel streams a URL with Range requests",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(MODEL));
    const server = serveFiles({ "m/stories260K.gguf": bytes });
    try {
      await assertGreedy(await loadModel(`${server.url}m/stories260K.gguf`, { threads: 1 }));
      assert.ok(server.requests.length > 1, "more than one request");
      for (const request of server.requests) assert.match(request.range ?? "", /^bytes=\d+-\d+$/);
      // Only the 1 MiB header prefetch overlaps the tensors, so no other byte is sent twice.
      assert.ok(
        server.bytesSent() <= bytes.length + (1 << 20),
        `${server.bytesSent()} bytes sent for a ${bytes.length}-byte file`,
      );
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "loadModel resolves hf: refs against hubUrl",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(MODEL));
    const server = serveFiles({ "owner/repo/resolve/v1/dir/stories260K.gguf": bytes });
    try {
      const model = await loadModel("hf:owner/repo@v1/dir/stories260K.gguf", {
        hubUrl: server.url,
        threads: 1,
      });
      await assertGreedy(model);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "loadModel caches a download once",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(MODEL));
    const server = serveFiles({ "owner/repo/resolve/main/stories260K.gguf": bytes });
    const cache = await Deno.makeTempDir();
    try {
      const progress: number[] = [];
      const options = {
        hubUrl: server.url,
        cache,
        threads: 1,
        onDownloadProgress: (p: { received: number }) => progress.push(p.received),
      };
      await assertGreedy(await loadModel("hf:owner/repo/stories260K.gguf", options));
      const cached = await Deno.readFile(`${cache}/hub/owner/repo/main/stories260K.gguf`);
      assert.deepEqual(cached, bytes);
      assert.equal(progress.at(-1), bytes.length);

      const requests = server.requests.length;
      await (await loadModel("hf:owner/repo/stories260K.gguf", options)).close();
      assert.equal(server.requests.length, requests, "the second load makes no request");
    } finally {
      await server.close();
      await Deno.remove(cache, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadModel takes bytes, URL and an open file",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const path = testdataPath(MODEL);
    await assertGreedy(await loadModel(await Deno.readFile(path), { threads: 1 }));
    await assertGreedy(await loadModel(new URL(`file://${path}`), { threads: 1 }));

    const file = await readGguf(path);
    const model = await loadModel(file, { threads: 1 });
    assert.equal(model.file, file);
    await assertGreedy(model);
  },
});

Deno.test("loadModel rejects bad sources", async () => {
  await assert.rejects(loadModel("ftp://example.com/m.gguf"), ModelSourceError);
  await assert.rejects(loadModel("hf:owner/repo"), ModelSourceError);
  await assert.rejects(loadModel(new Uint8Array([1, 2, 3, 4])), GgufError);
  const server = serveFiles({});
  try {
    await assert.rejects(loadModel(`${server.url}missing.gguf`), (error: Error) => {
      assert.ok(error instanceof GgufError);
      assert.match(error.message, /404/);
      return true;
    });
  } finally {
    await server.close();
  }
});
