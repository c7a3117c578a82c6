import { GgufError } from "./errors.ts";
import { GGML_TYPES, ggmlTypeName, isGgmlType } from "./ggml_type.ts";
import { type GgufTensorInfo, type GgufValue, GgufValueType } from "./types.ts";

/** Header fields of one file; the caller adds the source and merges split parts. */
export interface ParsedHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  metadataTypes: Map<string, GgufValueType>;
  arrayTypes: Map<string, GgufValueType>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataOffset: number;
}

/**
 * Thrown by the parser when the loaded prefix ends before the header does but the file
 * is long enough. The caller loads at least `needed` bytes and parses again.
 */
export class NeedMoreBytes {
  constructor(readonly needed: number) {}
}

const DEFAULT_ALIGNMENT = 32;
/** ggml's limit on tensor dimensions. */
const MAX_DIMS = 4;
/** Nesting limit for arrays of arrays; keeps recursion shallow on hostile input. */
const MAX_ARRAY_DEPTH = 8;
/** Smallest tensor info: empty name (8), n_dims 0 (4), type (4), offset (8). */
const MIN_TENSOR_INFO_BYTES = 24;
/** Smallest key/value pair: empty key (8), value type (4), one-byte value (1). */
const MIN_KV_BYTES = 13;

/** Names of the retired type ids, so an error can name the type the file uses. */
const RETIRED_TYPES: Record<number, string> = {
  4: "Q4_2",
  5: "Q4_3",
  31: "Q4_0_4_4",
  32: "Q4_0_4_8",
  33: "Q4_0_8_8",
  36: "IQ4_NL_4_4",
  37: "IQ4_NL_4_8",
  38: "IQ4_NL_8_8",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Maximum length of a string decoded by hand. Vocabularies contain 10^5 short tokens,
 * and each TextDecoder call costs about 0.3 µs (measured with Deno 2.9.6 on x86-64),
 * several times the cost of decoding by hand.
 */
const SHORT_STRING_MAX = 32;

/**
 * Decodes short UTF-8 by hand. Returns undefined for any ill-formed sequence (overlong,
 * surrogate, above U+10FFFF, truncated), the same inputs a fatal TextDecoder rejects.
 */
export function decodeShortUtf8(bytes: Uint8Array): string | undefined {
  let text = "";
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      text += String.fromCharCode(b0);
      i += 1;
      continue;
    }
    let need: number;
    let cp: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      if (b0 === 0xe0) lo = 0xa0;
      if (b0 === 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      if (b0 === 0xf0) lo = 0x90;
      if (b0 === 0xf4) hi = 0x8f;
    } else {
      return undefined;
    }
    if (i + need >= bytes.length) return undefined;
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k];
      // Only the first continuation byte has a narrowed range.
      if (k === 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return undefined;
      cp = (cp << 6) | (b & 0x3f);
    }
    text += String.fromCodePoint(cp);
    i += need + 1;
  }
  return text;
}

type Where = { key?: string; tensor?: string };

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

  /** Ensures `n` more bytes are loaded, or explains why the file cannot have them. */
  need(n: number, what: string, where: Where = {}): void {
    if (this.pos + n <= this.bytes.length) return;
    if (this.pos + n > this.fileSize) {
      throw new GgufError(`file ends inside the ${what}`, {
        source: this.source,
        offset: this.pos,
        ...where,
        found: `${this.fileSize - this.pos} bytes left`,
        expected: `${n}`,
      });
    }
    throw new NeedMoreBytes(this.pos + n);
  }

  u32(what: string, where?: Where): number {
    this.need(4, what, where);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(what: string, where?: Where): number {
    this.need(4, what, where);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string, where?: Where): bigint {
    this.need(8, what, where);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  i64(what: string, where?: Where): bigint {
    this.need(8, what, where);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * Checks a count just read (8 bytes before `pos`) against the bytes left in the file,
   * at `minBytesEach` per item, so no claimed count can drive an allocation.
   */
  count(value: bigint, minBytesEach: number, what: string, where: Where = {}): number {
    const left = Math.max(0, this.fileSize - this.pos);
    const limit = Math.floor(left / minBytesEach);
    if (value < 0n || value > BigInt(limit)) {
      throw new GgufError(`invalid ${what}`, {
        source: this.source,
        offset: this.pos - 8,
        ...where,
        found: `${value}`,
        expected: value < 0n
          ? "a non-negative count"
          : `at most ${limit}, since ${left} bytes are left in the file and each item takes at least ${minBytesEach}`,
      });
    }
    return Number(value);
  }

  string(what: string, where: Where = {}): string {
    const start = this.pos;
    const length = this.count(this.u64(`${what} length`, where), 1, `${what} length`, where);
    this.need(length, what, where);
    const slice = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    if (length <= SHORT_STRING_MAX) {
      const text = decodeShortUtf8(slice);
      if (text !== undefined) return text;
    }
    try {
      return utf8.decode(slice);
    } catch {
      throw new GgufError(`invalid UTF-8 in ${what}`, {
        source: this.source,
        offset: start,
        ...where,
        found: `${length} bytes that are not valid UTF-8`,
        expected: "a UTF-8 string",
      });
    }
  }
}

/** Encoded size of each fixed-size value type; strings and arrays take at least this. */
const VALUE_BYTES: Record<GgufValueType, number> = {
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

function readValueType(c: Cursor, what: string, key: string): GgufValueType {
  const at = c.pos;
  const type = c.u32(what, { key });
  if (!isValueType(type)) {
    throw new GgufError(`unknown ${what}`, {
      source: c.source,
      offset: at,
      key,
      found: `${type}`,
      expected: "a value type id from 0 to 12",
    });
  }
  return type;
}

function readScalar(c: Cursor, type: GgufValueType, key: string): GgufValue {
  if (type === GgufValueType.STRING) return c.string("string value", { key });
  const size = VALUE_BYTES[type];
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
    default:
      return v.getFloat64(p, true);
  }
}

/**
 * Copies `n` elements into a fresh typed array. The copy makes the data aligned; typed
 * arrays use the platform's byte order, which is little-endian on every target Deno
 * supports.
 */
function readNumericArray(c: Cursor, type: GgufValueType, n: number, key: string): GgufValue {
  const bytes = n * VALUE_BYTES[type];
  c.need(bytes, "array", { key });
  const raw = c.bytes.slice(c.pos, c.pos + bytes);
  c.pos += bytes;
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
    default:
      return new Float64Array(buf);
  }
}

/**
 * Creates an array for `n` elements. Small arrays get their exact capacity, because one
 * grown by pushes keeps about 16 spare slots, which dominates when arrays of one or two
 * values are nested. Large ones grow by pushes, since V8 stores a large preallocated
 * array as a slower dictionary.
 */
function arrayFor<T>(n: number): T[] {
  return n <= 64 ? new Array<T>(n) : [];
}

/** Reads an array value (element type, count, elements); returns it with its element type. */
function readArray(c: Cursor, key: string, depth: number): [GgufValue, GgufValueType] {
  const elementType = readValueType(c, "array element type", key);
  const n = c.count(c.u64("array length", { key }), VALUE_BYTES[elementType], "array length", {
    key,
  });
  if (elementType === GgufValueType.STRING) {
    const out = arrayFor<string>(n);
    for (let i = 0; i < n; i++) out[i] = c.string(`string ${i} of the array`, { key });
    return [out, elementType];
  }
  if (elementType === GgufValueType.BOOL) {
    c.need(n, "array", { key });
    const out = arrayFor<boolean>(n);
    for (let i = 0; i < n; i++) out[i] = c.bytes[c.pos + i] !== 0;
    c.pos += n;
    return [out, elementType];
  }
  if (elementType === GgufValueType.ARRAY) {
    if (depth + 1 >= MAX_ARRAY_DEPTH) {
      throw new GgufError("arrays nested too deeply", {
        source: c.source,
        offset: c.pos,
        key,
        found: `depth ${depth + 2}`,
        expected: `at most ${MAX_ARRAY_DEPTH}`,
      });
    }
    const out = arrayFor<GgufValue>(n);
    for (let i = 0; i < n; i++) out[i] = readArray(c, key, depth + 1)[0];
    return [out, elementType];
  }
  if (depth > 0) {
    // Inner arrays become plain arrays: a typed array costs about 200 bytes even when
    // empty, which would let 12-byte empty arrays in the file allocate 15 times their size.
    c.need(n * VALUE_BYTES[elementType], "array", { key });
    const out = arrayFor<GgufValue>(n);
    for (let i = 0; i < n; i++) out[i] = readScalar(c, elementType, key);
    return [out, elementType];
  }
  return [readNumericArray(c, elementType, n, key), elementType];
}

function checkMagic(c: Cursor): void {
  c.need(4, "magic");
  const magic = c.bytes.subarray(0, 4);
  if (magic[0] === 0x47 && magic[1] === 0x47 && magic[2] === 0x55 && magic[3] === 0x46) return;
  const text = String.fromCharCode(...magic);
  let hint: string | undefined;
  if (text === "lmgg" || text === "fmgg" || text === "tjgg") {
    hint = "This is a GGML/GGJT model from before GGUF: convert it with llama.cpp's " +
      "convert_llama_ggml_to_gguf.py";
  } else if (text.startsWith("<") || text.startsWith("{")) {
    hint = "The data looks like HTML or JSON, for example an error page in place of the file";
  }
  throw new GgufError("not a GGUF file", {
    source: c.source,
    offset: 0,
    found: `magic bytes ${[...magic].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`,
    expected: `47 47 55 46 ("GGUF")`,
    hint,
  });
}

function checkVersion(c: Cursor): number {
  const version = c.u32("version");
  if (version === 2 || version === 3) return version;
  let hint: string | undefined;
  if (version === 1) {
    hint = "GGUF version 1 stored 32-bit counts and is no longer supported: " +
      "convert the original model again with a current llama.cpp";
  } else if (version !== 0 && (version & 0xffff) === 0) {
    hint = `This is a big-endian GGUF file (version ${version >>> 24} byte-swapped), ` +
      "which flint does not read: convert it to little-endian with the " +
      "gguf_convert_endian.py script of llama.cpp's gguf-py package";
  } else if (version > 3) {
    hint = "The file was written by a newer GGUF writer than flint supports";
  }
  throw new GgufError("unsupported GGUF version", {
    source: c.source,
    offset: 4,
    found: `${version}`,
    expected: "2 or 3 (little-endian)",
    hint,
  });
}

function readAlignment(
  c: Cursor,
  metadata: Map<string, GgufValue>,
  types: Map<string, GgufValueType>,
): number {
  const key = "general.alignment";
  if (!metadata.has(key)) return DEFAULT_ALIGNMENT;
  const a = metadata.get(key);
  if (
    types.get(key) !== GgufValueType.UINT32 || typeof a !== "number" || a === 0 ||
    (a & (a - 1)) !== 0
  ) {
    throw new GgufError("invalid alignment", {
      source: c.source,
      key,
      found: `${GgufValueType[types.get(key)!]} ${String(a)}`,
      expected: "a non-zero power of two stored as UINT32",
    });
  }
  return a;
}

function readTensorInfo(
  c: Cursor,
  index: number,
  alignment: number,
  split: number,
): Omit<GgufTensorInfo, "fileOffset"> {
  const name = c.string(`name of tensor ${index}`);
  const where = { tensor: name };

  const dimsAt = c.pos;
  const nDims = c.u32("dimension count", where);
  if (nDims > MAX_DIMS) {
    throw new GgufError("too many dimensions", {
      source: c.source,
      offset: dimsAt,
      ...where,
      found: `${nDims}`,
      expected: `at most ${MAX_DIMS}`,
    });
  }
  const ne: number[] = [];
  let nElements = 1;
  for (let d = 0; d < nDims; d++) {
    const at = c.pos;
    const v = c.i64("dimension", where);
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufError("invalid dimension", {
        source: c.source,
        offset: at,
        ...where,
        found: `ne[${d}] = ${v}`,
        expected: "a non-negative size below 2^53",
      });
    }
    ne.push(Number(v));
    nElements *= Number(v);
  }
  if (!Number.isSafeInteger(nElements)) {
    throw new GgufError("tensor too large", {
      source: c.source,
      offset: dimsAt,
      ...where,
      found: `shape [${ne.join(", ")}]`,
      expected: "fewer than 2^53 elements",
    });
  }

  const typeAt = c.pos;
  const type = c.i32("tensor type", where);
  if (!isGgmlType(type)) {
    const retired = RETIRED_TYPES[type];
    throw new GgufError("unknown tensor type", {
      source: c.source,
      offset: typeAt,
      ...where,
      found: retired ? `${type} (${retired}, retired)` : ggmlTypeName(type),
      expected: "a GGML type id in use today",
      hint: retired
        ? `ggml no longer stores ${retired} in files: quantize the original model again`
        : undefined,
    });
  }
  const { name: typeName, blockSize, typeSize } = GGML_TYPES[type];
  if ((ne[0] ?? 1) % blockSize !== 0) {
    throw new GgufError("row length is not a multiple of the block size", {
      source: c.source,
      offset: dimsAt,
      ...where,
      found: `ne[0] = ${ne[0] ?? 1} for ${typeName}`,
      expected: `a multiple of ${blockSize}`,
    });
  }
  const nBytes = (nElements / blockSize) * typeSize;

  const offsetAt = c.pos;
  const offset = c.u64("tensor offset", where);
  if (offset % BigInt(alignment) !== 0n || offset > BigInt(c.fileSize)) {
    throw new GgufError("invalid tensor offset", {
      source: c.source,
      offset: offsetAt,
      ...where,
      found: `${offset}`,
      expected: `a multiple of ${alignment} inside the ${c.fileSize}-byte file`,
    });
  }
  return { name, ne, type, offset: Number(offset), nElements, nBytes, split };
}

/** Checks that every tensor lies inside the data section and no two share a byte. */
function checkTensorRanges(c: Cursor, tensors: GgufTensorInfo[]): void {
  for (const t of tensors) {
    if (t.fileOffset + t.nBytes > c.fileSize) {
      throw new GgufError("tensor data extends past the end of the file", {
        source: c.source,
        offset: t.fileOffset,
        tensor: t.name,
        found: `${t.nBytes} bytes at data offset ${t.offset}`,
        expected: `at most ${Math.max(0, c.fileSize - t.fileOffset)} bytes`,
      });
    }
  }
  // Empty tensors occupy no bytes, so they cannot overlap anything.
  const sorted = tensors.filter((t) => t.nBytes > 0).sort((a, b) => a.offset - b.offset);
  let last: GgufTensorInfo | undefined;
  for (const t of sorted) {
    if (last && t.offset < last.offset + last.nBytes) {
      throw new GgufError("tensors overlap", {
        source: c.source,
        offset: t.fileOffset,
        tensor: t.name,
        found: `data offset ${t.offset}, inside "${last.name}" (bytes ${last.offset} to ${
          last.offset + last.nBytes
        } of the data section)`,
        expected: "disjoint tensor data",
      });
    }
    if (!last || t.offset + t.nBytes > last.offset + last.nBytes) last = t;
  }
}

function parse(c: Cursor, split: number): ParsedHeader {
  checkMagic(c);
  c.pos = 4;
  const version = checkVersion(c);
  const tensorCount = c.count(c.i64("tensor count"), MIN_TENSOR_INFO_BYTES, "tensor count");
  const kvCount = c.count(c.i64("metadata count"), MIN_KV_BYTES, "metadata count");

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  const arrayTypes = new Map<string, GgufValueType>();
  for (let i = 0; i < kvCount; i++) {
    const keyAt = c.pos;
    const key = c.string(`metadata key ${i}`);
    if (key.length === 0 || metadata.has(key)) {
      throw new GgufError(key.length === 0 ? "empty metadata key" : "duplicate metadata key", {
        source: c.source,
        offset: keyAt,
        key,
        expected: "unique, non-empty keys",
      });
    }
    const type = readValueType(c, "metadata value type", key);
    if (type === GgufValueType.ARRAY) {
      const [value, elementType] = readArray(c, key, 0);
      metadata.set(key, value);
      arrayTypes.set(key, elementType);
    } else {
      metadata.set(key, readScalar(c, type, key));
    }
    metadataTypes.set(key, type);
  }
  const alignment = readAlignment(c, metadata, metadataTypes);

  const infos: Omit<GgufTensorInfo, "fileOffset">[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos;
    const info = readTensorInfo(c, i, alignment, split);
    if (names.has(info.name)) {
      throw new GgufError("duplicate tensor name", {
        source: c.source,
        offset: at,
        tensor: info.name,
        expected: "unique tensor names",
      });
    }
    names.add(info.name);
    infos.push(info);
  }

  // A file without tensors has no data section, hence no padding either.
  const dataOffset = tensorCount === 0 ? c.pos : Math.ceil(c.pos / alignment) * alignment;
  const tensors = infos.map((t) => ({ ...t, fileOffset: dataOffset + t.offset }));
  checkTensorRanges(c, tensors);
  return { version, metadata, metadataTypes, arrayTypes, tensors, alignment, dataOffset };
}

/**
 * Parses a GGUF header from `bytes`, a prefix of a file of `fileSize` bytes. Throws
 * `NeedMoreBytes` when the header continues past the prefix, and `GgufError` for a
 * malformed file. Any other failure is wrapped in a `GgufError` with it as the cause.
 */
export function parseHeader(
  bytes: Uint8Array,
  fileSize: number,
  source: string,
  split: number,
): ParsedHeader {
  const c = new Cursor(bytes, fileSize, source);
  try {
    return parse(c, split);
  } catch (error) {
    if (error instanceof GgufError || error instanceof NeedMoreBytes) throw error;
    throw new GgufError("internal error while parsing the header", {
      source,
      offset: c.pos,
    }, { cause: error });
  }
}
