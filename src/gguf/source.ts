import { GgufError } from "./errors.ts";

/**
 * Random-access bytes of one GGUF file.
 *
 * @example A source over a Blob
 * ```ts ignore
 * import { type GgufSource, readGguf } from "@flint/flint";
 *
 * function blobSource(blob: Blob): GgufSource {
 *   return {
 *     name: "<blob>",
 *     size: blob.size,
 *     async readInto(offset, dest) {
 *       dest.set(new Uint8Array(await blob.slice(offset, offset + dest.length).arrayBuffer()));
 *     },
 *     close: () => Promise.resolve(),
 *   };
 * }
 * const file = await readGguf(blobSource(new Blob([await Deno.readFile("model.gguf")])));
 * ```
 */
export interface GgufSource {
  /** Path, URL or other name used in errors. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads `dest.length` bytes starting at `offset` into `dest`. Rejects with a
   * `GgufError` when the range is past the end or the read fails.
   */
  readInto(offset: number, dest: Uint8Array): Promise<void>;
  /** Releases the underlying file or connection. */
  close(): Promise<void>;
}

/**
 * Returns the error for a read of `length` bytes at `offset` that does not fit in a
 * source of `size` bytes, else undefined. `what` names the source's kind in the message.
 */
export function outOfRange(
  name: string,
  size: number,
  offset: number,
  length: number,
  what = "file",
): GgufError | undefined {
  if (offset >= 0 && offset + length <= size) return undefined;
  return new GgufError(`read past the end of the ${what}`, {
    source: name,
    offset,
    found: `${length} bytes requested`,
    expected: `at most ${Math.max(0, size - offset)}`,
  });
}

/** The bytes behind each in-memory source, so the parser can skip copying them. */
const inMemory = new WeakMap<GgufSource, Uint8Array>();

/** Returns the whole contents of a source made by `bytesSource`, else undefined. */
export function sourceBytes(source: GgufSource): Uint8Array | undefined {
  return inMemory.get(source);
}

/** Creates a source over bytes already in memory. */
export function bytesSource(bytes: Uint8Array, name = "<bytes>"): GgufSource {
  const source: GgufSource = {
    name,
    size: bytes.length,
    readInto(offset, dest) {
      const error = outOfRange(name, bytes.length, offset, dest.length, "data");
      if (error !== undefined) return Promise.reject(error);
      dest.set(bytes.subarray(offset, offset + dest.length));
      return Promise.resolve();
    },
    close() {
      return Promise.resolve();
    },
  };
  inMemory.set(source, bytes);
  return source;
}

/** Largest single `read` call; 4 MiB reads measured fastest into wasm memory. */
const FILE_READ_CHUNK = 4 * 1024 * 1024;

/**
 * Opens a local file; only the ranges asked for are read. Reads are queued, because
 * each one seeks the shared file handle.
 */
export async function fileSource(path: string): Promise<GgufSource> {
  let file: Deno.FsFile;
  let size: number;
  try {
    file = await Deno.open(path, { read: true });
    size = (await file.stat()).size;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new GgufError(`cannot open file: ${reason}`, { source: path }, { cause: error });
  }
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  async function read(offset: number, dest: Uint8Array): Promise<void> {
    if (closed) throw new GgufError("read after close", { source: path, offset });
    try {
      await file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < dest.length) {
        const end = Math.min(dest.length, done + FILE_READ_CHUNK);
        const n = await file.read(dest.subarray(done, end));
        if (n === null) {
          throw new GgufError("file ended early; was it truncated while open?", {
            source: path,
            offset: offset + done,
            expected: `${dest.length - done} more bytes`,
          });
        }
        done += n;
      }
    } catch (error) {
      if (error instanceof GgufError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new GgufError(`read failed: ${reason}`, { source: path, offset }, { cause: error });
    }
  }

  return {
    name: path,
    size,
    readInto(offset, dest) {
      const error = outOfRange(path, size, offset, dest.length);
      if (error !== undefined) return Promise.reject(error);
      const result = queue.then(() => read(offset, dest));
      queue = result.catch(() => {});
      return result;
    },
    async close() {
      await queue;
      if (closed) return;
      closed = true;
      file.close();
    },
  };
}
