import { GgufError } from "./errors.ts";
import { NeedMoreBytes, type ParsedHeader, parseHeader } from "./parse.ts";
import { bytesSource, fileSource, type GgufSource, sourceBytes } from "./source.ts";
import {
  checkSplitPart,
  parseSplitName,
  splitKey,
  splitNameTarget,
  splitPartName,
} from "./split.ts";
import type { GgufFile, GgufPart, GgufTensorInfo } from "./types.ts";
import { urlSource, type UrlSourceOptions } from "./url_source.ts";

export {
  type GgufFile,
  type GgufPart,
  type GgufTensorInfo,
  type GgufValue,
  GgufValueType,
} from "./types.ts";

/**
 * Input of `readGguf`: a local path, an http(s) URL, bytes in memory or a source.
 *
 * @example Every input readGguf takes
 * ```ts ignore
 * import { type GgufInput, readGguf } from "@flint/flint";
 *
 * const inputs: GgufInput[] = [
 *   "model.gguf",
 *   new URL("https://example.com/model.gguf"),
 *   await Deno.readFile("model.gguf"),
 * ];
 * for (const input of inputs) await readGguf(input);
 * ```
 */
export type GgufInput = string | URL | Uint8Array | GgufSource;

/**
 * Options for `readGguf`.
 *
 * @example Read one part of a split model only
 * ```ts ignore
 * import { readGguf, type ReadGgufOptions } from "@flint/flint";
 *
 * const options: ReadGgufOptions = { splits: false };
 * const first = await readGguf("model-00001-of-00003.gguf", options);
 * ```
 */
export interface ReadGgufOptions {
  /** Name used in errors for a `Uint8Array` input. */
  name?: string;
  /** fetch used for URL inputs; defaults to the global `fetch`. */
  fetch?: UrlSourceOptions["fetch"];
  /** Extra request headers for URL inputs. */
  headers?: HeadersInit;
  /**
   * When true (the default), the first part of a split model named
   * `<prefix>-00001-of-0000N.gguf` brings in its sibling parts. When false, only the
   * file given is read, and its split keys are not checked.
   */
  splits?: boolean;
}

/** First prefix read; most headers fit (a 32000-token vocabulary is about 0.6 MB). */
const INITIAL_PREFIX = 1 << 20;
/**
 * Largest header loaded. Real headers stay far below it (a 150000-token vocabulary
 * with its merges is about 10 MB), and a larger one is taken as a corrupt length.
 */
export const MAX_HEADER_BYTES = 1 << 30;

function isUrlString(input: string): boolean {
  return /^https?:\/\//i.test(input);
}

async function openInput(
  input: GgufInput,
  options: ReadGgufOptions,
  index: number,
): Promise<GgufSource> {
  if (typeof input === "string") {
    return isUrlString(input)
      ? await urlSource(input, { fetch: options.fetch, headers: options.headers })
      : await fileSource(input);
  }
  if (input instanceof URL) {
    if (input.protocol === "file:") return await fileSource(decodeURIComponent(input.pathname));
    if (input.protocol === "http:" || input.protocol === "https:") {
      return await urlSource(input, { fetch: options.fetch, headers: options.headers });
    }
    throw new GgufError("unsupported URL scheme", {
      source: input.href,
      found: input.protocol,
      expected: "file:, http: or https:",
    });
  }
  if (input instanceof Uint8Array) {
    const name = options.name ?? "<bytes>";
    return bytesSource(input, index === 0 ? name : `${name} part ${index + 1}`);
  }
  return input;
}

/** Returns the path or URL of an input, which split-model sibling names derive from. */
function inputName(input: GgufInput): string | undefined {
  if (typeof input === "string") return input;
  if (input instanceof URL) {
    return input.protocol === "file:" ? decodeURIComponent(input.pathname) : input.href;
  }
  return undefined;
}

/**
 * Parses the header of one source. Reads a prefix and extends it (at least fourfold)
 * until the header fits, so the bytes read and allocated stay within four times the header
 * size, or the file size if that is smaller.
 */
async function readHeader(source: GgufSource, split: number): Promise<ParsedHeader> {
  const whole = sourceBytes(source);
  if (whole) return parseHeader(whole, whole.length, source.name, split);

  let prefix = new Uint8Array(Math.min(source.size, INITIAL_PREFIX));
  await source.readInto(0, prefix);
  for (;;) {
    try {
      return parseHeader(prefix, source.size, source.name, split);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      if (error.needed > MAX_HEADER_BYTES) {
        throw new GgufError("header too large", {
          source: source.name,
          offset: prefix.length,
          found: `a header of at least ${error.needed} bytes`,
          expected: `at most ${MAX_HEADER_BYTES} bytes`,
          hint: "A string or array length in the header is probably corrupt",
        });
      }
      const length = Math.min(
        source.size,
        MAX_HEADER_BYTES,
        Math.max(error.needed, prefix.length * 4),
      );
      const next = new Uint8Array(length);
      next.set(prefix);
      await source.readInto(prefix.length, next.subarray(prefix.length));
      prefix = next;
    }
  }
}

/** Builds the file from its parts, checking split keys when there is more than one. */
function assemble(sources: GgufSource[], headers: ParsedHeader[], isSplit: boolean): GgufFile {
  const first = headers[0];
  const source = sources[0].name;
  if (isSplit) {
    headers.forEach((h, i) => checkSplitPart(h, sources[i].name, i, headers.length));
  }

  const tensors: GgufTensorInfo[] = [];
  const owner = new Map<string, number>();
  headers.forEach((h, i) => {
    for (const t of h.tensors) {
      const other = owner.get(t.name);
      if (other !== undefined) {
        throw new GgufError("tensor appears in two split parts", {
          source: sources[i].name,
          offset: t.fileOffset,
          tensor: t.name,
          found: `also in "${sources[other].name}"`,
          expected: "each tensor in one part",
        });
      }
      owner.set(t.name, i);
      tensors.push(t);
    }
  });

  if (isSplit) {
    const claimed = splitKey(first.metadata, "split.tensors.count", source);
    if (claimed !== undefined && claimed !== tensors.length) {
      throw new GgufError("split parts hold a different number of tensors than declared", {
        source,
        key: "split.tensors.count",
        found: `${tensors.length} tensors in ${headers.length} parts`,
        expected: `${claimed}`,
      });
    }
  }

  const parts: GgufPart[] = headers.map((h, i) => ({
    source: sources[i].name,
    size: sources[i].size,
    version: h.version,
    alignment: h.alignment,
    dataOffset: h.dataOffset,
    tensorCount: h.tensors.length,
  }));
  return {
    source,
    version: first.version,
    metadata: first.metadata,
    metadataTypes: first.metadataTypes,
    arrayTypes: first.arrayTypes,
    tensors,
    alignment: first.alignment,
    dataOffset: first.dataOffset,
    sources,
    parts,
  };
}

/** Reads the first part, then finds and reads its siblings if it starts a split model. */
async function readSingle(
  input: GgufInput,
  options: ReadGgufOptions,
  opened: GgufSource[],
): Promise<GgufFile> {
  const first = await openInput(input, options, 0);
  opened.push(first);
  const headers = [await readHeader(first, 0)];
  if (options.splits === false) return assemble(opened, headers, false);

  const count = splitKey(headers[0].metadata, "split.count", first.name) ?? 1;
  const name = inputName(input);
  const fromName = name === undefined ? undefined : parseSplitName(splitNameTarget(name));
  if (count <= 1) {
    if (fromName && fromName.count > 1) {
      throw new GgufError("file named as a split part lacks split.count", {
        source: first.name,
        key: "split.count",
        expected: `${fromName.count}, as in the file name`,
        hint: "Open it with the option splits: false to read this part alone",
      });
    }
    return assemble(opened, headers, false);
  }

  if (name === undefined || fromName === undefined) {
    throw new GgufError("file is one part of a split model", {
      source: first.name,
      key: "split.count",
      found: `${count}`,
      hint: "Pass every part, in order, as an array to readGguf, or keep the " +
        "-00001-of-0000N.gguf names so the parts can be found",
    });
  }
  const no = splitKey(headers[0].metadata, "split.no", first.name);
  if (fromName.no !== 1 || no !== 0) {
    throw new GgufError("file is not the first part of a split model", {
      source: first.name,
      key: "split.no",
      found: `part ${fromName.no} (split.no = ${no})`,
      expected: "part 1 (split.no = 0)",
      hint: `Open the first part: ${splitPartName(first.name, 1, fromName.count)}`,
    });
  }
  if (fromName.count !== count) {
    throw new GgufError("split count differs from the file name", {
      source: first.name,
      key: "split.count",
      found: `${count}`,
      expected: `${fromName.count}, as in the file name`,
    });
  }
  for (let i = 1; i < count; i++) {
    const source = await openInput(splitPartName(name, i + 1, count), options, i);
    opened.push(source);
    headers.push(await readHeader(source, i));
  }
  return assemble(opened, headers, true);
}

/**
 * Reads the header of a GGUF file: a local path, an http(s) URL, a `Uint8Array` or an
 * open `GgufSource`. The first part of a split model brings in its siblings; an array
 * gives the parts of a split model explicitly, in order. Tensor data is not read; use
 * `readTensorInto`. Malformed or unreadable input rejects with a `GgufError`, and every
 * source opened is closed again.
 *
 * @example Read the header of a remote file with a token
 * ```ts ignore
 * import { readGguf } from "@flint/flint";
 *
 * const file = await readGguf("https://example.com/private/model.gguf", {
 *   headers: { authorization: "Bearer <token>" },
 * });
 * console.log(file.tensors.length, "tensors");
 * ```
 */
export async function readGguf(
  input: GgufInput | readonly GgufInput[],
  options: ReadGgufOptions = {},
): Promise<GgufFile> {
  const opened: GgufSource[] = [];
  try {
    if (!Array.isArray(input)) return await readSingle(input as GgufInput, options, opened);
    if (input.length === 0) {
      throw new GgufError("no files given", { source: "<none>", expected: "at least one" });
    }
    const headers: ParsedHeader[] = [];
    for (let i = 0; i < input.length; i++) {
      const source = await openInput(input[i], options, i);
      opened.push(source);
      headers.push(await readHeader(source, i));
    }
    const count = splitKey(headers[0].metadata, "split.count", opened[0].name) ?? 1;
    return assemble(opened, headers, input.length > 1 || count > 1);
  } catch (error) {
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
    throw error;
  }
}

/**
 * Reads one tensor's bytes into `dest`, which must be exactly `tensor.nBytes` long.
 * A wrong destination size is a caller bug and throws a RangeError.
 */
export async function readTensorInto(
  file: GgufFile,
  tensor: GgufTensorInfo,
  dest: Uint8Array,
): Promise<void> {
  if (dest.length !== tensor.nBytes) {
    throw new RangeError(
      `destination for tensor "${tensor.name}" holds ${dest.length} bytes, expected ${tensor.nBytes}`,
    );
  }
  const source = file.sources[tensor.split];
  if (source === undefined) {
    throw new RangeError(
      `tensor "${tensor.name}" is in split ${tensor.split}, but the file has ${file.sources.length} sources`,
    );
  }
  await source.readInto(tensor.fileOffset, dest);
}

/** Reads one tensor's bytes into a new buffer of `tensor.nBytes` bytes. */
export async function readTensor(file: GgufFile, tensor: GgufTensorInfo): Promise<Uint8Array> {
  const dest = new Uint8Array(tensor.nBytes);
  await readTensorInto(file, tensor, dest);
  return dest;
}

/**
 * Closes every source of the file.
 *
 * @example Release the file handle
 * ```ts ignore
 * import { closeGguf, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * try {
 *   console.log(file.metadata.get("general.architecture"));
 * } finally {
 *   await closeGguf(file);
 * }
 * ```
 */
export async function closeGguf(file: GgufFile): Promise<void> {
  await Promise.all(file.sources.map((s) => s.close()));
}
