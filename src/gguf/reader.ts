import { GgufError } from "./errors.ts";
import { GGML_TYPES, type GgmlType, ggmlTypeName, isGgmlType } from "./ggml_type.ts";
import { bytesSource, fileSource, type GgufSource } from "./source.ts";

/** GGUF metadata value type ids. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/**
 * A metadata value. Scalars of up to 32 bits and floats are numbers; 64-bit integers
 * are numbers when they are safe integers and bigints otherwise. Numeric arrays are
 * typed arrays, string and bool arrays are plain arrays, nested arrays are arrays of
 * values.
 */
export type GgufValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | string[]
  | boolean[]
  | GgufValue[];

/** One tensor's entry in the tensor table. */
export interface GgufTensorInfo {
  /** Tensor name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** Dimensions `ne[0..n_dims-1]`; `ne[0]` is contiguous. */
  ne: number[];
  /** Element type. */
  type: GgmlType;
  /** Offset relative to the start of the data section, as stored. */
  offset: number;
  /** Absolute byte offset of the data in its file. */
  fileOffset: number;
  /** Element count. */
  nElements: number;
  /** Byte size of the data. */
  nBytes: number;
  /** Index of the split file that holds the data (0 for a single file). */
  split: number;
}

/** A parsed GGUF header: metadata and tensor table. Tensor data is read on demand. */
export interface GgufFile {
  /** Name of the (first) source. */
  source: string;
  version: number;
  metadata: Map<string, GgufValue>;
  /** Value type of each metadata key (for arrays, `ARRAY`). */
  metadataTypes: Map<string, GgufValueType>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section in the (first) file. */
  dataOffset: number;
  /** The sources: one per split file. */
  sources: GgufSource[];
}

/** Raised inside the parser when the buffered prefix is too short; never escapes. */
class NeedMoreBytes {
  constructor(readonly needed: number) {}
}

const DEFAULT_ALIGNMENT = 32;
/** First prefix read; most headers fit (a 32000-token vocabulary is about 0.6 MB). */
const INITIAL_PREFIX = 1 << 20;
/** ggml's limit on tensor dimensions. */
const MAX_DIMS = 4;

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Cursor {
  pos = 0;
  readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    /** Size of the whole file; bytes past `bytes.length` exist but are not loaded. */
    readonly fileSize: number,
    readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Ensures `n` more bytes are available, or explains why they never will be. */
  need(n: number, what: string, context: { key?: string; tensor?: string } = {}): void {
    if (this.pos + n <= this.bytes.length) return;
    if (this.pos + n > this.fileSize) {
      throw new GgufError(`truncated file while reading ${what}`, {
        source: this.source,
        offset: this.pos,
        ...context,
        found: `${this.fileSize - this.pos} bytes left`,
        expected: `${n}`,
      });
    }
    throw new NeedMoreBytes(this.pos + n);
  }

  u8(): number {
    this.need(1, "uint8");
    return this.view.getUint8(this.pos++);
  }
  u32(what = "uint32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(what = "int32"): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what = "uint64"): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(what = "int64"): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A count that must fit in what is left of the file at `minBytesEach` per item. */
  count(value: bigint, minBytesEach: number, what: string, context: { key?: string } = {}) {
    const left = this.fileSize - this.pos;
    const limit = minBytesEach === 0 ? BigInt(Number.MAX_SAFE_INTEGER) : BigInt(
      Math.floor(left / minBytesEach),
    );
    if (value < 0n || value > limit) {
      throw new GgufError(`invalid ${what}`, {
        source: this.source,
        offset: this.pos - 8,
        ...context,
        found: `${value}`,
        expected: minBytesEach === 0
          ? "a non-negative count"
          : `at most ${limit} (${left} bytes left in the file)`,
      });
    }
    return Number(value);
  }

  string(what: string, context: { key?: string; tensor?: string } = {}): string {
    const start = this.pos;
    const length = this.count(this.u64(`${what} length`), 1, `${what} length`, context);
    this.need(length, what, context);
    const slice = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    try {
      return utf8.decode(slice);
    } catch {
      throw new GgufError(`invalid UTF-8 in ${what}`, {
        source: this.source,
        offset: start,
        ...context,
        expected: "a UTF-8 string",
      });
    }
  }
}

/** Bytes each value type takes at least; arrays and strings take at least 8 (a length). */
const MIN_VALUE_BYTES: Record<GgufValueType, number> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.STRING]: 8,
  [GgufValueType.ARRAY]: 12,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

function isValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

function toNumberIfSafe(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function readScalar(c: Cursor, type: GgufValueType, key: string): GgufValue {
  const size = MIN_VALUE_BYTES[type];
  if (type === GgufValueType.STRING) return c.string("string value", { key });
  c.need(size, "value", { key });
  const v = c.view;
  const p = c.pos;
  c.pos += size;
  switch (type) {
    case GgufValueType.UINT8:
      return v.getUint8(p);
    case GgufValueType.INT8:
      return v.getInt8(p);
    case GgufValueType.UINT16:
      return v.getUint16(p, true);
    case GgufValueType.INT16:
      return v.getInt16(p, true);
    case GgufValueType.UINT32:
      return v.getUint32(p, true);
    case GgufValueType.INT32:
      return v.getInt32(p, true);
    case GgufValueType.FLOAT32:
      return v.getFloat32(p, true);
    case GgufValueType.BOOL:
      return v.getUint8(p) !== 0;
    case GgufValueType.UINT64:
      return toNumberIfSafe(v.getBigUint64(p, true));
    case GgufValueType.INT64:
      return toNumberIfSafe(v.getBigInt64(p, true));
    case GgufValueType.FLOAT64:
      return v.getFloat64(p, true);
    default:
      throw new Error(`unreachable value type ${type}`);
  }
}

/** Copies `n` little-endian elements into a fresh, aligned typed array. */
function readNumericArray(c: Cursor, type: GgufValueType, n: number, key: string): GgufValue {
  const size = MIN_VALUE_BYTES[type];
  c.need(n * size, "array", { key });
  const raw = c.bytes.slice(c.pos, c.pos + n * size);
  c.pos += n * size;
  const buf = raw.buffer;
  switch (type) {
    case GgufValueType.UINT8:
      return raw;
    case GgufValueType.INT8:
      return new Int8Array(buf);
    case GgufValueType.UINT16:
      return new Uint16Array(buf);
    case GgufValueType.INT16:
      return new Int16Array(buf);
    case GgufValueType.UINT32:
      return new Uint32Array(buf);
    case GgufValueType.INT32:
      return new Int32Array(buf);
    case GgufValueType.FLOAT32:
      return new Float32Array(buf);
    case GgufValueType.UINT64:
      return new BigUint64Array(buf);
    case GgufValueType.INT64:
      return new BigInt64Array(buf);
    case GgufValueType.FLOAT64:
      return new Float64Array(buf);
    default:
      throw new Error(`unreachable array type ${type}`);
  }
}

function readArray(c: Cursor, key: string, depth: number): GgufValue {
  const typeOffset = c.pos;
  const elementType = c.u32("array element type");
  if (!isValueType(elementType)) {
    throw new GgufError("unknown array element type", {
      source: c.source,
      offset: typeOffset,
      key,
      found: `${elementType}`,
      expected: "a value type id from 0 to 12",
    });
  }
  const n = c.count(c.u64("array length"), MIN_VALUE_BYTES[elementType], "array length", {
    key,
  });
  if (elementType === GgufValueType.STRING) {
    const out: string[] = new Array(0);
    for (let i = 0; i < n; i++) out.push(c.string(`string ${i} of the array`, { key }));
    return out;
  }
  if (elementType === GgufValueType.BOOL) {
    c.need(n, "array", { key });
    const out: boolean[] = [];
    for (let i = 0; i < n; i++) out.push(c.bytes[c.pos + i] !== 0);
    c.pos += n;
    return out;
  }
  if (elementType === GgufValueType.ARRAY) {
    if (depth >= 8) {
      throw new GgufError("arrays nested too deeply", {
        source: c.source,
        offset: typeOffset,
        key,
        found: `depth ${depth + 1}`,
        expected: "at most 8",
      });
    }
    const out: GgufValue[] = [];
    for (let i = 0; i < n; i++) out.push(readArray(c, key, depth + 1));
    return out;
  }
  return readNumericArray(c, elementType, n, key);
}

/** What `parseHeader` found: everything but the sources. */
type ParsedHeader = Omit<GgufFile, "sources" | "source">;

function parseHeader(bytes: Uint8Array, fileSize: number, source: string, split: number) {
  const c = new Cursor(bytes, fileSize, source);
  c.need(4, "magic");
  const magic = bytes.subarray(0, 4);
  if (magic[0] !== 0x47 || magic[1] !== 0x47 || magic[2] !== 0x55 || magic[3] !== 0x46) {
    throw new GgufError("not a GGUF file", {
      source,
      offset: 0,
      found: `magic ${JSON.stringify(new TextDecoder().decode(magic))}`,
      expected: `"GGUF"`,
    });
  }
  c.pos = 4;
  const version = c.u32("version");
  if (version !== 2 && version !== 3) {
    let hint = "versions 2 and 3";
    if (version === 1) {
      hint += "; version 1 files predate 64-bit counts: convert with a current llama.cpp";
    } else if ((version & 0xffff) === 0) {
      hint += "; this looks like a big-endian file: convert it to little-endian";
    }
    throw new GgufError("unsupported GGUF version", {
      source,
      offset: 4,
      found: `${version}`,
      expected: hint,
    });
  }
  const tensorCount = c.count(c.i64("tensor count"), 8 + 4 + 4 + 8 + 8, "tensor count");
  const kvCount = c.count(c.i64("metadata count"), 8 + 4 + 1, "metadata count");

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  for (let i = 0; i < kvCount; i++) {
    const keyOffset = c.pos;
    const key = c.string(`metadata key ${i}`);
    if (key.length === 0 || metadata.has(key)) {
      throw new GgufError(key.length === 0 ? "empty metadata key" : "duplicate metadata key", {
        source,
        offset: keyOffset,
        key,
        expected: "unique, non-empty keys",
      });
    }
    const typeOffset = c.pos;
    const type = c.u32("value type");
    if (!isValueType(type)) {
      throw new GgufError("unknown metadata value type", {
        source,
        offset: typeOffset,
        key,
        found: `${type}`,
        expected: "a value type id from 0 to 12",
      });
    }
    const value = type === GgufValueType.ARRAY ? readArray(c, key, 0) : readScalar(c, type, key);
    metadata.set(key, value);
    metadataTypes.set(key, type);
  }

  let alignment = DEFAULT_ALIGNMENT;
  if (metadata.has("general.alignment")) {
    const a = metadata.get("general.alignment");
    if (
      metadataTypes.get("general.alignment") !== GgufValueType.UINT32 || typeof a !== "number" ||
      a === 0 || (a & (a - 1)) !== 0
    ) {
      throw new GgufError("invalid alignment", {
        source,
        key: "general.alignment",
        found: String(a),
        expected: "a non-zero power of two stored as UINT32",
      });
    }
    alignment = a;
  }

  const infos: Omit<GgufTensorInfo, "fileOffset">[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const nameOffset = c.pos;
    const name = c.string(`tensor name ${i}`);
    if (names.has(name)) {
      throw new GgufError("duplicate tensor name", {
        source,
        offset: nameOffset,
        tensor: name,
        expected: "unique tensor names",
      });
    }
    names.add(name);
    const dimsOffset = c.pos;
    const nDims = c.u32("dimension count");
    if (nDims > MAX_DIMS) {
      throw new GgufError("too many dimensions", {
        source,
        offset: dimsOffset,
        tensor: name,
        found: `${nDims}`,
        expected: `at most ${MAX_DIMS}`,
      });
    }
    const ne: number[] = [];
    let nElements = 1;
    for (let d = 0; d < nDims; d++) {
      const dimOffset = c.pos;
      const v = c.i64("dimension");
      if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GgufError("invalid dimension", {
          source,
          offset: dimOffset,
          tensor: name,
          found: `${v}`,
          expected: "a non-negative size",
        });
      }
      ne.push(Number(v));
      nElements *= Number(v);
    }
    if (!Number.isSafeInteger(nElements)) {
      throw new GgufError("tensor too large", {
        source,
        offset: dimsOffset,
        tensor: name,
        found: `shape [${ne.join(", ")}]`,
        expected: `fewer than 2^53 elements`,
      });
    }
    const typeOffset = c.pos;
    const type = c.i32("tensor type");
    if (!isGgmlType(type)) {
      throw new GgufError("unknown tensor type", {
        source,
        offset: typeOffset,
        tensor: name,
        found: ggmlTypeName(type),
        expected: "a GGML type id in use today",
      });
    }
    const { blockSize, typeSize } = GGML_TYPES[type];
    if ((ne[0] ?? 1) % blockSize !== 0) {
      throw new GgufError("row length is not a multiple of the block size", {
        source,
        offset: dimsOffset,
        tensor: name,
        found: `ne[0] = ${ne[0]} for ${GGML_TYPES[type].name}`,
        expected: `a multiple of ${blockSize}`,
      });
    }
    const offsetAt = c.pos;
    const offset = c.u64("tensor offset");
    if (offset % BigInt(alignment) !== 0n || offset > BigInt(fileSize)) {
      throw new GgufError("invalid tensor offset", {
        source,
        offset: offsetAt,
        tensor: name,
        found: `${offset}`,
        expected: `a multiple of ${alignment} inside the file`,
      });
    }
    const nBytes = (nElements / blockSize) * typeSize;
    infos.push({ name, ne, type, offset: Number(offset), nElements, nBytes, split });
  }

  const dataOffset = tensorCount === 0 ? c.pos : Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map((t) => ({ ...t, fileOffset: dataOffset + t.offset }));
  checkTensorRanges(tensors, source, dataOffset, fileSize, alignment);
  const header: ParsedHeader = { version, metadata, metadataTypes, tensors, alignment, dataOffset };
  return header;
}

/** Every tensor inside the data section and no two overlapping. */
function checkTensorRanges(
  tensors: GgufTensorInfo[],
  source: string,
  dataOffset: number,
  fileSize: number,
  alignment: number,
): void {
  for (const t of tensors) {
    if (t.fileOffset + t.nBytes > fileSize) {
      throw new GgufError("tensor data extends past the end of the file", {
        source,
        offset: t.fileOffset,
        tensor: t.name,
        found: `${t.nBytes} bytes at data offset ${t.offset}`,
        expected: `at most ${Math.max(0, fileSize - t.fileOffset)} bytes`,
      });
    }
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (prev.offset + prev.nBytes > cur.offset) {
      throw new GgufError("tensors overlap", {
        source,
        offset: cur.fileOffset,
        tensor: cur.name,
        found: `starts at data offset ${cur.offset}, inside "${prev.name}" (${prev.offset}..${
          prev.offset + prev.nBytes
        })`,
        expected: `offsets aligned to ${alignment} with no overlap`,
      });
    }
  }
  void dataOffset;
}

/** Parses the header of one source, reading a growing prefix until it fits. */
async function readHeader(source: GgufSource, split: number): Promise<ParsedHeader> {
  let prefixLength = Math.min(source.size, INITIAL_PREFIX);
  for (;;) {
    const prefix = new Uint8Array(prefixLength);
    await source.readInto(0, prefix);
    try {
      return parseHeader(prefix, source.size, source.name, split);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      // Grow geometrically so a large header costs at most twice its size in reads.
      prefixLength = Math.min(source.size, Math.max(error.needed, prefixLength * 2));
    }
  }
}

/** Options for `readGguf`. */
export interface ReadGgufOptions {
  /** Name used in errors for a `Uint8Array` source. */
  name?: string;
}

/**
 * Reads the header of a GGUF file: a local path, a `Uint8Array` or an open `GgufSource`.
 * Tensor data is not read; use `readTensorInto`.
 */
export async function readGguf(
  input: string | Uint8Array | GgufSource,
  options: ReadGgufOptions = {},
): Promise<GgufFile> {
  const source = typeof input === "string"
    ? await fileSource(input)
    : input instanceof Uint8Array
    ? bytesSource(input, options.name)
    : input;
  try {
    const header = await readHeader(source, 0);
    return { source: source.name, sources: [source], ...header };
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** Reads one tensor's bytes into `dest`, which must be exactly `tensor.nBytes` long. */
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
  await file.sources[tensor.split].readInto(tensor.fileOffset, dest);
}

/** Closes every source of the file. */
export async function closeGguf(file: GgufFile): Promise<void> {
  for (const s of file.sources) await s.close();
}
