import assert from "node:assert/strict";
import {
  closeGguf,
  encodeGguf,
  GgmlType,
  GgufError,
  readGguf,
  readTensor,
  urlSource,
} from "./mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../../tests/testdata.ts";
import { fixtureFile, pattern } from "../../tests/gguf_fixtures.ts";

/** Behaviour of the test server. */
type Mode =
  | "range" // 206 with Content-Range, as a file server does
  | "ignore-range" // 200 with the whole body, streamed in chunks
  | "drop" // 206 whose body stops halfway with a connection error
  | "short-ranges" // 206, but never more than 1000 bytes per response
  | "no-length" // 200 without Content-Length
  | "status-404";

interface TestServer {
  url: string;
  /** Requests received. */
  requests: number;
  /** Body bytes the server handed to the connection. */
  bytesSent: number;
  /** Responses whose body the client abandoned before the end. */
  cancelled: number;
  close(): Promise<void>;
}

const CHUNK = 64 * 1024;

/** Creates a body stream that hands out `bytes` in chunks as the client reads. */
function chunked(bytes: Uint8Array, server: TestServer, failAfter?: number): ReadableStream {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (failAfter !== undefined && at >= failAfter) {
        controller.error(new Error("connection dropped by the test server"));
        return;
      }
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.length, at + CHUNK, failAfter ?? Infinity);
      controller.enqueue(bytes.slice(at, end));
      server.bytesSent += end - at;
      at = end;
    },
    cancel() {
      server.cancelled++;
    },
  }, { highWaterMark: 0 });
}

function parseRange(header: string | null, size: number): [number, number] | undefined {
  const m = header?.match(/^bytes=(\d+)-(\d*)$/);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return [start, end];
}

function onError(): Response {
  return new Response("test server error", { status: 500 });
}

/** Serves files at /<name> on 127.0.0.1 with an ephemeral port. */
function serve(files: Record<string, Uint8Array>, mode: Mode): TestServer {
  const server: TestServer = {
    url: "",
    requests: 0,
    bytesSent: 0,
    cancelled: 0,
    close: async () => {},
  };
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {}, onError }, (request) => {
    server.requests++;
    const bytes = files[new URL(request.url).pathname.slice(1)];
    if (bytes === undefined || mode === "status-404") {
      return new Response("not found", { status: 404, statusText: "Not Found" });
    }
    const size = bytes.length;
    const range = parseRange(request.headers.get("range"), size);
    if (mode === "ignore-range" || mode === "no-length" || !range) {
      const headers: Record<string, string> = mode === "no-length"
        ? {}
        : { "content-length": String(size) };
      return new Response(chunked(bytes, server), { status: 200, headers });
    }
    let [start, end] = range;
    if (start >= size) {
      return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
    }
    if (mode === "short-ranges") end = Math.min(end, start + 999);
    const body = bytes.subarray(start, end + 1);
    // Small responses go through, so the opening request of a dropping server succeeds.
    const failAfter = mode === "drop" && body.length > 64 ? Math.floor(body.length / 2) : undefined;
    return new Response(chunked(body, server, failAfter), {
      status: 206,
      headers: {
        "content-range": `bytes ${start}-${end}/${size}`,
        "content-length": String(body.length),
      },
    });
  });
  server.url = `http://127.0.0.1:${http.addr.port}/`;
  server.close = () => http.shutdown();
  return server;
}

async function withServer(
  files: Record<string, Uint8Array>,
  mode: Mode,
  fn: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = serve(files, mode);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

Deno.test({
  name: "urlSource reads stories260K with Range requests",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath("models/stories260K.gguf"));
    await withServer({ "stories260K.gguf": bytes }, "range", async (server) => {
      const file = await readGguf(`${server.url}stories260K.gguf`);
      assert.equal(file.tensors.length, 48);
      assert.equal(file.metadata.get("llama.embedding_length"), 64);
      assert.equal(file.parts[0].size, bytes.length);
      assert.equal(server.requests, 1, "the header came with the first request");
      assert.ok(server.bytesSent <= 1 << 20, `${server.bytesSent} bytes sent`);

      // The last tensor lies past the prefetched 1 MiB, so it needs its own request.
      const last = file.tensors.reduce((a, b) => (a.fileOffset > b.fileOffset ? a : b));
      const data = await readTensor(file, last);
      assert.deepEqual(data, bytes.subarray(last.fileOffset, last.fileOffset + last.nBytes));
      assert.equal(server.requests, 2);
      await closeGguf(file);
    });
  },
});

Deno.test({
  name: "urlSource reads the header of a large file only",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(testdataPath("models/micro-F32.gguf"));
    await withServer({ "m.gguf": bytes }, "range", async (server) => {
      const file = await readGguf(new URL(`${server.url}m.gguf`));
      assert.equal(file.tensors.length, 21);
      assert.ok(server.bytesSent <= 1 << 20, `${server.bytesSent} of ${bytes.length} sent`);
      await closeGguf(file);
    });
  },
});

Deno.test("urlSource works with a server that ignores Range", async () => {
  // 32 MiB of tensor data, more than the loopback socket buffers hold, so a client
  // that kept reading would make the server send all of it.
  const bytes = encodeGguf({
    tensors: [
      { name: "small", ne: [8], type: GgmlType.F32, data: pattern(32) },
      { name: "big", ne: [1 << 23], type: GgmlType.F32 },
      { name: "last", ne: [8], type: GgmlType.F32, data: pattern(32, 5) },
    ],
  });
  await withServer({ "m.gguf": bytes }, "ignore-range", async (server) => {
    const file = await readGguf(`${server.url}m.gguf`);
    assert.equal(file.tensors.length, 3);
    assert.equal(file.parts[0].size, bytes.length);
    assert.ok(server.bytesSent < bytes.length * 0.75, `${server.bytesSent} bytes sent`);

    // The last tensor sits past 32 MiB: the open body is read on and all but it discarded,
    // so reads in file order cost no second request.
    const last = file.tensors[2];
    assert.deepEqual(await readTensor(file, last), pattern(32, 5));
    assert.equal(server.requests, 1);
    // A read before the current position (and past the first MiB kept in memory)
    // downloads from the start again.
    const big = await readTensor(file, file.tensors[1]);
    assert.equal(big.length, 4 << 23);
    assert.equal(server.requests, 2);
    await closeGguf(file);
  });
});

Deno.test("urlSource loads all tensors in one pass when Range is ignored", async () => {
  const bytes = fixtureFile();
  await withServer({ "f.gguf": bytes }, "ignore-range", async (server) => {
    // Keep just the header in memory, so that every tensor read goes to the server.
    const prefetch = (await readGguf(bytes)).dataOffset;
    const file = await readGguf(await urlSource(`${server.url}f.gguf`, { prefetch }));
    // Concurrent reads in file order share the one open body.
    const tensors = await Promise.all(file.tensors.map((t) => readTensor(file, t)));
    assert.equal(tensors.length, 4);
    assert.equal(server.requests, 1);
    await closeGguf(file);
  });
});

Deno.test("urlSource follows a server that sends short ranges", async () => {
  const bytes = fixtureFile();
  await withServer({ "f.gguf": bytes }, "short-ranges", async (server) => {
    const source = await urlSource(`${server.url}f.gguf`, { prefetch: 16 });
    const dest = new Uint8Array(bytes.length - 100);
    await source.readInto(100, dest);
    assert.deepEqual(dest, bytes.subarray(100));
    assert.ok(server.requests >= 3, `${server.requests} requests`);
    const file = await readGguf(source);
    assert.equal(file.tensors.length, 4);
  });
});

Deno.test("urlSource reports a connection dropped mid-body", async () => {
  const bytes = fixtureFile();
  await withServer({ "f.gguf": bytes }, "drop", async (server) => {
    // A small prefetch makes the header read go past the first response.
    const source = await urlSource(`${server.url}f.gguf`, { prefetch: 64 });
    await assert.rejects(() => readGguf(source), (error) => {
      assert.ok(error instanceof GgufError, String(error));
      assert.match(error.message, /download failed|response ended early/);
      assert.match(error.message, /f\.gguf/);
      return true;
    });
  });
});

Deno.test("urlSource reports HTTP errors and bad servers", async () => {
  const bytes = fixtureFile();
  await withServer({ "f.gguf": bytes }, "status-404", async (server) => {
    await assert.rejects(() => readGguf(`${server.url}f.gguf`), (error) => {
      assert.ok(error instanceof GgufError);
      assert.match(error.message, /HTTP request failed/);
      assert.equal(error.found, "status 404 Not Found");
      return true;
    });
  });
  await withServer({ "f.gguf": bytes }, "no-length", async (server) => {
    await assert.rejects(() => readGguf(`${server.url}f.gguf`), (error) => {
      assert.ok(error instanceof GgufError);
      assert.match(error.message, /ignores Range requests and sends no Content-Length/);
      return true;
    });
  });
  // Nothing listens on this port once the server is closed.
  const server = serve({}, "range");
  const url = `${server.url}f.gguf`;
  await server.close();
  await assert.rejects(() => readGguf(url), (error) => {
    assert.ok(error instanceof GgufError);
    assert.match(error.message, /request failed/);
    return true;
  });
});

Deno.test("urlSource keeps secrets out of error messages", async () => {
  const bytes = fixtureFile();
  await withServer({ "f.gguf": bytes.subarray(0, 100) }, "range", async (server) => {
    const url = `${server.url}f.gguf?token=secret123`;
    await assert.rejects(() => readGguf(url), (error) => {
      assert.ok(error instanceof GgufError);
      assert.doesNotMatch(error.message, /secret123/);
      return true;
    });
  });
});

Deno.test("urlSource uses an injected fetch", async () => {
  const bytes = fixtureFile();
  const seen: string[] = [];
  const fakeFetch = (input: string | URL | Request, init?: RequestInit) => {
    seen.push(new Headers(init?.headers).get("range") ?? "");
    assert.equal(String(input), "https://models.example/f.gguf");
    return Promise.resolve(
      new Response(bytes.slice(), {
        status: 200,
        headers: { "content-length": String(bytes.length) },
      }),
    );
  };
  const file = await readGguf("https://models.example/f.gguf", { fetch: fakeFetch });
  assert.equal(file.tensors.length, 4);
  assert.deepEqual(seen, ["bytes=0-1048575"]);
  assert.equal(file.source, "https://models.example/f.gguf");
});

Deno.test("urlSource reports a socket closed before Content-Length", async () => {
  // A raw HTTP/1.1 server that promises the whole range, sends half and hangs up.
  const bytes = fixtureFile();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const serving = (async () => {
    for await (const conn of listener) {
      const request = new Uint8Array(4096);
      const n = await conn.read(request) ?? 0;
      const m = new TextDecoder().decode(request.subarray(0, n)).match(/range: bytes=(\d+)-(\d+)/i);
      const start = Number(m![1]);
      const end = Math.min(Number(m![2]), bytes.length - 1);
      const body = bytes.subarray(start, end + 1);
      const head = `HTTP/1.1 206 Partial Content\r\ncontent-range: bytes ${start}-${end}/` +
        `${bytes.length}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      await conn.write(body.length > 64 ? body.subarray(0, body.length >> 1) : body);
      conn.close();
    }
  })();
  try {
    const source = await urlSource(`http://127.0.0.1:${port}/f.gguf`, { prefetch: 64 });
    await assert.rejects(() => readGguf(source), (error) => {
      assert.ok(error instanceof GgufError, String(error));
      assert.match(error.message, /download failed|response ended early/);
      assert.match(error.found!, /1136 of 2272 bytes|1136 bytes/);
      return true;
    });
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});
