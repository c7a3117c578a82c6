/**
 * A static file server on 127.0.0.1 that serves Range requests with 206 responses as a CDN does,
 * and counts requests and body bytes, for tests that load models over HTTP.
 */

/** A running server, stopped by `close()`. */
export interface RangeServer {
  /** Base URL ending in `/`. */
  readonly url: string;
  /** Requests received, by path. */
  readonly requests: { path: string; range: string | null }[];
  /** Body bytes sent in all responses. */
  readonly bytesSent: () => number;
  close(): Promise<void>;
}

/** Serves `files` (path without the leading `/` to contents). */
export function serveFiles(files: Record<string, Uint8Array>): RangeServer {
  const requests: { path: string; range: string | null }[] = [];
  let sent = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const range = request.headers.get("range");
    requests.push({ path, range });
    const body = files[path];
    if (body === undefined) return new Response("not found", { status: 404 });
    const m = range?.match(/^bytes=(\d+)-(\d*)$/);
    if (!m) {
      sent += body.length;
      return new Response(body.slice(), { headers: { "content-length": `${body.length}` } });
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] === "" ? body.length - 1 : Number(m[2]), body.length - 1);
    if (start >= body.length) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${body.length}` },
      });
    }
    sent += end + 1 - start;
    return new Response(body.slice(start, end + 1), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${body.length}` },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requests,
    bytesSent: () => sent,
    close: () => server.shutdown(),
  };
}
