import { GgufError } from "./errors.ts";
import { type GgufSource, outOfRange } from "./source.ts";

/**
 * Options for `urlSource`.
 *
 * @example Read a remote header with a custom fetch
 * ```ts ignore
 * import { readGguf } from "@flint/flint";
 *
 * const file = await readGguf("https://example.com/model.gguf", {
 *   fetch: (input, init) => {
 *     console.log("GET", String(input), new Headers(init?.headers).get("range"));
 *     return fetch(input, init);
 *   },
 * });
 * ```
 */
export interface UrlSourceOptions {
  /** The fetch to use; defaults to the global `fetch`. */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Extra request headers, for example `authorization`. */
  headers?: HeadersInit;
  /**
   * Bytes at the start of the file fetched by the first request and kept in memory, so
   * that parsing a typical header costs one request. Default 1 MiB.
   */
  prefetch?: number;
}

const DEFAULT_PREFETCH = 1 << 20;

/** Most bytes from the start of the file kept in memory for a server that ignores Range. */
const HEAD_LIMIT = 16 << 20;

interface ContentRange {
  start: number;
  /** Last byte, inclusive. */
  end: number;
  /** Total size, unless the server sent `*`. */
  total?: number;
}

function parseContentRange(header: string | null): ContentRange | undefined {
  const m = header?.match(/^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i);
  if (!m) return undefined;
  const total = m[3] === "*" ? undefined : Number(m[3]);
  if (m[1] === undefined) return { start: 0, end: -1, total };
  return { start: Number(m[1]), end: Number(m[2]), total };
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Returns the URL without credentials or query, for messages that may end up in logs. */
function displayName(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * Copies a response body into `dest`, first discarding `skip` bytes, then cancels the
 * rest of the body. Returns the bytes copied, fewer than `dest.length` when the body
 * ended early. Never buffers more than one chunk beyond `dest`.
 */
async function readBody(
  response: Response,
  skip: number,
  dest: Uint8Array,
  name: string,
  offset: number,
): Promise<number> {
  if (response.body === null) return 0;
  const reader = response.body.getReader();
  let filled = 0;
  let toSkip = skip;
  try {
    while (filled < dest.length) {
      const { done, value } = await reader.read();
      if (done) break;
      let chunk = value;
      if (toSkip > 0) {
        if (chunk.length <= toSkip) {
          toSkip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      const n = Math.min(chunk.length, dest.length - filled);
      dest.set(chunk.subarray(0, n), filled);
      filled += n;
    }
  } catch (error) {
    throw new GgufError(`download failed: ${reasonOf(error)}`, {
      source: name,
      offset: offset + filled,
      found: `${filled} of ${dest.length} bytes received`,
    }, { cause: error });
  } finally {
    await reader.cancel().catch(() => {});
  }
  return filled;
}

function endedEarly(name: string, offset: number, got: number, wanted: number): GgufError {
  return new GgufError("response ended early; the connection was probably closed", {
    source: name,
    offset: offset + got,
    found: `${got} bytes`,
    expected: `${wanted}`,
  });
}

/**
 * The open body of a response to a request whose Range the server ignored (status 200),
 * at byte `position` of the file. Reads at or after that position continue this body
 * instead of downloading the file again from its start.
 */
interface Cursor {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  position: number;
  /** Bytes of the last chunk not yet consumed; they start at `position`. */
  leftover: Uint8Array;
}

/**
 * Copies from `cursor` into `dest` after discarding `skip` bytes, leaving the body open.
 * Returns the bytes copied, fewer than `dest.length` when the body ended early.
 */
async function pull(
  cursor: Cursor,
  skip: number,
  dest: Uint8Array,
  name: string,
): Promise<number> {
  let filled = 0;
  let toSkip = skip;
  try {
    while (filled < dest.length) {
      let chunk = cursor.leftover;
      cursor.leftover = new Uint8Array(0);
      if (chunk.length === 0) {
        const { done, value } = await cursor.reader.read();
        if (done) break;
        chunk = value;
      }
      if (toSkip > 0) {
        const skipped = Math.min(toSkip, chunk.length);
        chunk = chunk.subarray(skipped);
        cursor.position += skipped;
        toSkip -= skipped;
        if (chunk.length === 0) continue;
      }
      const n = Math.min(chunk.length, dest.length - filled);
      dest.set(chunk.subarray(0, n), filled);
      filled += n;
      cursor.position += n;
      cursor.leftover = chunk.subarray(n);
    }
  } catch (error) {
    throw new GgufError(`download failed: ${reasonOf(error)}`, {
      source: name,
      offset: cursor.position,
      found: `${filled} of ${dest.length} bytes received`,
    }, { cause: error });
  }
  return filled;
}

/**
 * Opens a GGUF file over http(s) and reads it with Range requests. A server that
 * ignores Range (status 200) still works: the body is streamed and only the bytes
 * requested are kept. Its body stays open between reads, so reads in file order (as
 * when loading weights) take one pass over the file; a read before the current position
 * downloads from the start again. `close()` cancels the open body.
 */
export async function urlSource(
  url: string | URL,
  options: UrlSourceOptions = {},
): Promise<GgufSource> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new GgufError("invalid URL", { source: String(url) }, { cause: error });
  }
  const name = displayName(parsed);
  const doFetch = options.fetch ?? fetch;
  const prefetch = Math.max(1, options.prefetch ?? DEFAULT_PREFETCH);

  async function request(start: number, end: number): Promise<Response> {
    const headers = new Headers(options.headers);
    headers.set("range", `bytes=${start}-${end}`);
    // A compressed body would not match the byte ranges.
    headers.set("accept-encoding", "identity");
    try {
      return await doFetch(parsed, { headers });
    } catch (error) {
      throw new GgufError(`request failed: ${reasonOf(error)}`, { source: name, offset: start }, {
        cause: error,
      });
    }
  }

  function badStatus(response: Response, offset: number): GgufError {
    response.body?.cancel().catch(() => {});
    return new GgufError("HTTP request failed", {
      source: name,
      offset,
      found: `status ${response.status} ${response.statusText}`.trimEnd(),
      expected: "200 or 206",
    });
  }

  function badRange(response: Response, offset: number, expected: string): GgufError {
    response.body?.cancel().catch(() => {});
    return new GgufError("unexpected Content-Range in the response", {
      source: name,
      offset,
      found: JSON.stringify(response.headers.get("content-range")),
      expected,
    });
  }

  function contentLength(response: Response): number | undefined {
    const text = response.headers.get("content-length");
    return text !== null && /^\d+$/.test(text) ? Number(text) : undefined;
  }

  let cursor: Cursor | undefined;
  let ignoresRange = false;
  // Reads that may use the cursor run one at a time, in call order.
  let queue: Promise<unknown> = Promise.resolve();

  function openCursor(response: Response): Cursor {
    return { reader: response.body!.getReader(), position: 0, leftover: new Uint8Array(0) };
  }

  async function dropCursor(): Promise<void> {
    const open = cursor;
    cursor = undefined;
    await open?.reader.cancel().catch(() => {});
  }

  // The first request learns the size and brings in the start of the file.
  const first = await request(0, prefetch - 1);
  let size: number;
  let head: Uint8Array;
  if (first.status === 206) {
    const range = parseContentRange(first.headers.get("content-range"));
    if (!range || range.start !== 0 || range.end < 0 || range.total === undefined) {
      throw badRange(first, 0, "bytes 0-<end>/<size>");
    }
    size = range.total;
    const wanted = Math.min(range.end + 1, prefetch, size);
    head = new Uint8Array(wanted);
    const got = await readBody(first, 0, head, name, 0);
    if (got < wanted) throw endedEarly(name, 0, got, wanted);
  } else if (first.status === 200) {
    const length = contentLength(first);
    if (length === undefined) {
      first.body?.cancel().catch(() => {});
      throw new GgufError("the server ignores Range requests and sends no Content-Length", {
        source: name,
        expected: "a server that supports Range requests or reports the file size",
      });
    }
    size = length;
    head = new Uint8Array(Math.min(prefetch, size));
    ignoresRange = true;
    if (first.body === null) throw endedEarly(name, 0, 0, head.length);
    cursor = openCursor(first);
    const got = await pull(cursor, 0, head, name).catch(async (error) => {
      await dropCursor();
      throw error;
    });
    if (got < head.length) {
      await dropCursor();
      throw endedEarly(name, 0, got, head.length);
    }
  } else if (first.status === 416) {
    // Range not satisfiable: the file is shorter than the first byte requested.
    const range = parseContentRange(first.headers.get("content-range"));
    first.body?.cancel().catch(() => {});
    if (range?.total !== 0) throw badRange(first, 0, "bytes */0 for an empty file");
    size = 0;
    head = new Uint8Array(0);
  } else {
    throw badStatus(first, 0);
  }

  async function readRange(offset: number, dest: Uint8Array): Promise<void> {
    let done = 0;
    if (cursor !== undefined && offset >= cursor.position) {
      const got = await pull(cursor, offset - cursor.position, dest, name).catch(async (error) => {
        await dropCursor();
        throw error;
      });
      if (got < dest.length) {
        await dropCursor();
        throw endedEarly(name, offset, got, dest.length);
      }
      return;
    }
    while (done < dest.length) {
      const start = offset + done;
      const last = offset + dest.length - 1;
      const response = await request(start, last);
      if (response.status === 206) {
        const range = parseContentRange(response.headers.get("content-range"));
        if (!range || range.start !== start || range.end < start) {
          throw badRange(response, start, `bytes ${start}-${last}/${size}`);
        }
        if (range.total !== undefined && range.total !== size) {
          response.body?.cancel().catch(() => {});
          throw new GgufError("the file changed on the server while being read", {
            source: name,
            offset: start,
            found: `size ${range.total}`,
            expected: `${size}`,
          });
        }
        // A server may send less than requested; the loop requests the rest.
        const wanted = Math.min(range.end, last) - start + 1;
        const got = await readBody(response, 0, dest.subarray(done, done + wanted), name, start);
        if (got < wanted) throw endedEarly(name, start, got, wanted);
        done += wanted;
      } else if (response.status === 200) {
        const length = contentLength(response);
        if (length !== undefined && length !== size) {
          response.body?.cancel().catch(() => {});
          throw new GgufError("the file changed on the server while being read", {
            source: name,
            offset: start,
            found: `size ${length}`,
            expected: `${size}`,
          });
        }
        const rest = dest.subarray(done);
        ignoresRange = true;
        await dropCursor();
        if (response.body === null) throw endedEarly(name, start, 0, rest.length);
        cursor = openCursor(response);
        const got = await pull(cursor, start, rest, name).catch(async (error) => {
          await dropCursor();
          throw error;
        });
        if (got < rest.length) {
          await dropCursor();
          throw endedEarly(name, start, got, rest.length);
        }
        done = dest.length;
      } else {
        throw badStatus(response, start);
      }
    }
  }

  return {
    name,
    size,
    readInto(offset, dest) {
      const error = outOfRange(name, size, offset, dest.length);
      if (error !== undefined) return Promise.reject(error);
      if (offset + dest.length <= head.length) {
        dest.set(head.subarray(offset, offset + dest.length));
        return Promise.resolve();
      }
      if (cursor === undefined && !ignoresRange) return readRange(offset, dest);
      // The part in `head` is copied, so a read that extends the header continues the body.
      const read = queue.then(async () => {
        const inHead = Math.max(0, head.length - offset);
        dest.set(head.subarray(offset, offset + inHead));
        const rest = dest.subarray(inHead);
        await readRange(offset + inHead, rest);
        // Bytes that extend `head` are kept, up to a limit, because the header parser
        // reads again from the start with a larger buffer.
        if (offset + inHead === head.length && head.length + rest.length <= HEAD_LIMIT) {
          const grown = new Uint8Array(head.length + rest.length);
          grown.set(head);
          grown.set(rest, head.length);
          head = grown;
        }
      });
      queue = read.catch(() => {});
      return read;
    },
    async close() {
      await queue;
      await dropCursor();
    },
  };
}
