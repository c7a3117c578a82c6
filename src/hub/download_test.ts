import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { DownloadError, type DownloadProgress, resolveModel } from "./download.ts";
import { progressBar, progressLine } from "./progress.ts";
import { ModelSourceError, parseModelSource } from "./spec.ts";

const SHARED_FILE = "models/stories260K.gguf";

interface FileServer {
  url: string;
  /** Range header of every request, or null when absent. */
  ranges: (string | null)[];
  /** Response body bytes actually sent. */
  bytesSent: number;
  close(): Promise<void>;
}

/**
 * Serves `bytes` at any path on a free loopback port. `breakAt` cuts the first
 * `breaks` responses after that many body bytes, which the client sees as a dropped
 * connection.
 */
function serveFile(
  bytes: Uint8Array,
  options: { ranges: boolean; breakAt?: number; breaks?: number; status?: number },
): FileServer {
  let breaksLeft = options.breaks ?? 0;
  const state: FileServer = {
    url: "",
    ranges: [],
    bytesSent: 0,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const range = request.headers.get("range");
    state.ranges.push(range);
    if (options.status) return new Response("nope", { status: options.status });
    let start = 0;
    let status = 200;
    const headers = new Headers({ "content-type": "application/octet-stream" });
    const match = /^bytes=(\d+)-$/.exec(range ?? "");
    if (options.ranges && match) {
      start = Number(match[1]);
      status = 206;
      headers.set("content-range", `bytes ${start}-${bytes.length - 1}/${bytes.length}`);
    }
    const body = bytes.subarray(start);
    headers.set("content-length", String(body.length));
    const cut = breaksLeft > 0 && options.breakAt !== undefined;
    if (cut) breaksLeft--;
    const limit = cut ? Math.max(0, options.breakAt! - start) : body.length;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= limit) {
          if (cut) controller.error(new Error("connection cut by test server"));
          else controller.close();
          return;
        }
        const piece = body.subarray(sent, Math.min(limit, sent + 64 * 1024));
        sent += piece.length;
        state.bytesSent += piece.length;
        controller.enqueue(piece);
      },
    });
    return new Response(stream, { status, headers });
  });
  state.url = `http://127.0.0.1:${server.addr.port}`;
  return state;
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flint-hub-test-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const quiet = { info() {}, warn() {} };

Deno.test({
  name: "resolveModel downloads hub file once",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(SHARED_FILE));
    const server = serveFile(bytes, { ranges: true });
    try {
      await withTempDir(async (cacheDir) => {
        const progress: DownloadProgress[] = [];
        const source = "hf:test-owner/test-repo/stories260K.gguf";
        const path = await resolveModel(source, {
          cacheDir,
          hubUrl: server.url,
          onProgress: (p) => progress.push(p),
          logger: quiet,
        });
        assert.equal(path, `${cacheDir}/hub/test-owner/test-repo/main/stories260K.gguf`);
        assert.deepEqual(await Deno.readFile(path), bytes);
        assert.deepEqual(server.ranges, [null]);
        const last = progress.at(-1)!;
        assert.equal(last.done, true);
        assert.equal(last.received, bytes.length);
        assert.equal(last.total, bytes.length);
        assert.match(progressBar(last), /100\.0%/);
        assert.match(progressLine(last), /of 1\.13 MiB \(100\.0%\)/);
        // A second call uses the cache without any request.
        assert.equal(await resolveModel(source, { cacheDir, hubUrl: server.url }), path);
        assert.equal(server.ranges.length, 1);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "resolveModel requests the hub resolve path",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = new Uint8Array(1000).fill(7);
    const paths: string[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      paths.push(new URL(request.url).pathname);
      return new Response(bytes);
    });
    try {
      await withTempDir(async (cacheDir) => {
        await resolveModel("hf:Owner/Repo-GGUF@v1.0/sub/dir/m.Q4_K_M.gguf", {
          cacheDir,
          hubUrl: `http://127.0.0.1:${server.addr.port}/`,
        });
        assert.deepEqual(paths, ["/Owner/Repo-GGUF/resolve/v1.0/sub/dir/m.Q4_K_M.gguf"]);
      });
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "download resumes with Range after a break",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(SHARED_FILE));
    const breakAt = 300_000;
    const server = serveFile(bytes, { ranges: true, breakAt, breaks: 1 });
    try {
      await withTempDir(async (cacheDir) => {
        const warnings: string[] = [];
        const path = await resolveModel(`${server.url}/files/stories260K.gguf`, {
          cacheDir,
          retryDelayMs: 0,
          logger: { info() {}, warn: (m) => warnings.push(m) },
        });
        assert.deepEqual(await Deno.readFile(path), bytes);
        assert.equal(server.ranges.length, 2);
        assert.equal(server.ranges[0], null);
        // The second request starts exactly where the first one's bytes ended on disk.
        const resumedAt = Number(/^bytes=(\d+)-$/.exec(server.ranges[1] ?? "")?.[1]);
        assert.ok(resumedAt > 0, `resumed at ${resumedAt}`);
        assert.ok(resumedAt <= breakAt, `resumed at ${resumedAt}, after the break at ${breakAt}`);
        assert.ok(server.bytesSent < bytes.length + breakAt);
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /interrupted/);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "download restarts when server ignores Range",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(SHARED_FILE));
    const server = serveFile(bytes, { ranges: false, breakAt: 200_000, breaks: 1 });
    try {
      await withTempDir(async (cacheDir) => {
        const path = await resolveModel(`${server.url}/m.gguf`, {
          cacheDir,
          retryDelayMs: 0,
          logger: quiet,
        });
        assert.deepEqual(await Deno.readFile(path), bytes);
        assert.equal(server.ranges.length, 2);
        assert.match(server.ranges[1] ?? "", /^bytes=\d+-$/);
        await assert.rejects(Deno.stat(`${path}.part`), Deno.errors.NotFound);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "download without Range support or breaks",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(SHARED_FILE));
    const server = serveFile(bytes, { ranges: false });
    try {
      await withTempDir(async (cacheDir) => {
        const path = await resolveModel(`${server.url}/m.gguf`, { cacheDir });
        assert.deepEqual(await Deno.readFile(path), bytes);
        assert.deepEqual(server.ranges, [null]);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "download resumes a part file from an earlier run",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath(SHARED_FILE));
    const server = serveFile(bytes, { ranges: true });
    try {
      await withTempDir(async (cacheDir) => {
        const source = "hf:o/r/stories260K.gguf";
        const path = `${cacheDir}/hub/o/r/main/stories260K.gguf`;
        await Deno.mkdir(`${cacheDir}/hub/o/r/main`, { recursive: true });
        await Deno.writeFile(`${path}.part`, bytes.subarray(0, 123_456));
        await resolveModel(source, { cacheDir, hubUrl: server.url });
        assert.deepEqual(server.ranges, ["bytes=123456-"]);
        assert.equal(server.bytesSent, bytes.length - 123_456);
        assert.deepEqual(await Deno.readFile(path), bytes);
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test("download gives up on repeated short bodies", async () => {
  const bytes = new Uint8Array(50_000).fill(1);
  const server = serveFile(bytes, { ranges: true, breakAt: 10_000, breaks: 100 });
  try {
    await withTempDir(async (cacheDir) => {
      await assert.rejects(
        resolveModel(`${server.url}/m.gguf`, {
          cacheDir,
          retries: 2,
          retryDelayMs: 0,
          logger: quiet,
        }),
        (error: unknown) => {
          assert.ok(error instanceof DownloadError);
          assert.match(error.message, /gave up after 3 attempts/);
          return true;
        },
      );
      assert.equal(server.ranges.length, 3);
      const files = Array.from(Deno.readDirSync(`${cacheDir}/url`)).flatMap((d) =>
        Array.from(Deno.readDirSync(`${cacheDir}/url/${d.name}`)).map((f) => f.name)
      );
      assert.deepEqual(files, ["m.gguf.part"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("download retry messages name the cause; fatal errors are not retried", async () => {
  const bytes = new Uint8Array(1000).fill(7);
  const warnings: string[] = [];
  const logger = { ...quiet, warn: (m: string) => warnings.push(m) };
  let calls = 0;
  const flaky: typeof fetch = (input, init) => {
    calls++;
    if (calls === 1) {
      return Promise.reject(new TypeError("error sending request: Connection refused"));
    }
    return fetch(input, init);
  };
  const server = serveFile(bytes, { ranges: true, breakAt: 400, breaks: 1 });
  try {
    await withTempDir(async (cacheDir) => {
      const path = await resolveModel(`${server.url}/m.gguf`, {
        cacheDir,
        retryDelayMs: 0,
        logger,
        fetch: flaky,
      });
      assert.deepEqual(await Deno.readFile(path), bytes);
      assert.equal(warnings.length, 2, warnings.join("\n"));
      // Nothing was on disk after the refused connection: a retry, not a resume.
      assert.match(
        warnings[0],
        /failed \(request failed: .*Connection refused\); retrying, attempt 2 of 6$/,
      );
      assert.match(warnings[1], /interrupted \(.*\); resuming at byte 400, attempt 3 of 6$/);

      calls = 0;
      const denied: typeof fetch = () => {
        calls++;
        return Promise.reject(new Deno.errors.NotCapable('Requires net access to "h.example"'));
      };
      await assert.rejects(
        resolveModel("https://h.example/n.gguf", {
          cacheDir,
          retryDelayMs: 0,
          logger,
          fetch: denied,
        }),
        (error: unknown) => {
          assert.ok(error instanceof DownloadError);
          assert.match(error.message, /Requires net access/);
          return true;
        },
      );
      assert.equal(calls, 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("download reports HTTP errors without retrying", async () => {
  const server = serveFile(new Uint8Array(10), { ranges: true, status: 404 });
  try {
    await withTempDir(async (cacheDir) => {
      await assert.rejects(
        resolveModel("hf:a/b/missing.gguf", { cacheDir, hubUrl: server.url }),
        (error: unknown) => {
          assert.ok(error instanceof DownloadError);
          assert.match(error.message, /a\/b\/resolve\/main\/missing\.gguf failed: HTTP 404/);
          return true;
        },
      );
      assert.equal(server.ranges.length, 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("parseModelSource accepts and rejects", () => {
  assert.deepEqual(parseModelSource("./m.gguf"), { kind: "file", path: "./m.gguf" });
  assert.deepEqual(
    parseModelSource("hf:MaziyarPanahi/WizardLM-2-7B-GGUF/WizardLM-2-7B.Q4_K_M.gguf"),
    {
      kind: "hub",
      owner: "MaziyarPanahi",
      repo: "WizardLM-2-7B-GGUF",
      revision: "main",
      file: "WizardLM-2-7B.Q4_K_M.gguf",
    },
  );
  assert.equal(parseModelSource("https://example.test/m.gguf").kind, "url");
  for (const bad of ["hf:owner/m.gguf", "hf:o/r/../x.gguf", "hf:o/r//x.gguf", "ftp://h/m.gguf"]) {
    assert.throws(() => parseModelSource(bad), ModelSourceError, bad);
  }
});
