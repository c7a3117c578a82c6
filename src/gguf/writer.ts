import { GGML_TYPES, isGgmlType } from "./ggml_type.ts";
import { GgufValueType } from "./types.ts";

/**
 * An array value to encode. For `elementType` ARRAY, each value is itself a
 * `GgufWriteArray`.
 */
export interface GgufWriteArray {
  elementType: GgufValueType;
  values: ArrayLike<unknown>;
}

/**
 * One metadata entry to encode. Numbers, bigints, booleans and strings go in `value` as
 * they are; an ARRAY takes a `GgufWriteArray`. A key or string given as bytes is written
 * unchecked, which lets tests build invalid UTF-8.
 */
export interface GgufWriteKv {
  key: string | Uint8Array;
  type: GgufValueType;
  value: unknown;
}

/** One tensor to encode. */
export interface GgufWriteTensor {
  name: string | Uint8Array;
  ne: number[];
  /** GGML type id; any number is written, known or not. */
  type: number;
  /** Tensor bytes; zeros of the type's size when absent. */
  data?: Uint8Array;
  /** Offset in the data section; by default each tensor follows the previous, aligned. */
  offset?: number;
}

/** Contents of a file for `encodeGguf`. */
export interface GgufWriteSpec {
  /** Version field; default 3. */
  version?: number;
  metadata?: GgufWriteKv[];
  tensors?: GgufWriteTensor[];
  /** Stop after the tensor infos and padding, leaving out the data section. */
  headerOnly?: boolean;
}

const encoder = new TextEncoder();

class ByteWriter {
  buf: Uint8Array<ArrayBuffer> = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  length = 0;

  reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  /** Reserves `n` bytes, then returns the view to write them with and their offset. */
  put(n: number): [DataView, number] {
    const at = this.reserve(n);
    return [this.view, at];
  }
  u8(v: number) {
    const [view, at] = this.put(1);
    view.setUint8(at, v);
  }
  u32(v: number) {
    const [view, at] = this.put(4);
    view.setUint32(at, v, true);
  }
  u64(v: number | bigint) {
    const [view, at] = this.put(8);
    view.setBigUint64(at, BigInt(v), true);
  }
  bytes(b: Uint8Array) {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  string(s: string | Uint8Array) {
    const b = typeof s === "string" ? encoder.encode(s) : s;
    this.u64(b.length);
    this.bytes(b);
  }
}

function writeValue(w: ByteWriter, type: GgufValueType, value: unknown): void {
  let view: DataView;
  let at: number;
  switch (type) {
    case GgufValueType.UINT8:
      return w.u8(Number(value));
    case GgufValueType.INT8:
      [view, at] = w.put(1);
      return view.setInt8(at, Number(value));
    case GgufValueType.UINT16:
      [view, at] = w.put(2);
      return view.setUint16(at, Number(value), true);
    case GgufValueType.INT16:
      [view, at] = w.put(2);
      return view.setInt16(at, Number(value), true);
    case GgufValueType.UINT32:
      return w.u32(Number(value));
    case GgufValueType.INT32:
      [view, at] = w.put(4);
      return view.setInt32(at, Number(value), true);
    case GgufValueType.FLOAT32:
      [view, at] = w.put(4);
      return view.setFloat32(at, Number(value), true);
    case GgufValueType.BOOL:
      return w.u8(value ? 1 : 0);
    case GgufValueType.STRING:
      return w.string(value as string | Uint8Array);
    case GgufValueType.ARRAY: {
      const array = value as GgufWriteArray;
      w.u32(array.elementType);
      w.u64(array.values.length);
      for (let i = 0; i < array.values.length; i++) {
        writeValue(w, array.elementType, array.values[i]);
      }
      return;
    }
    case GgufValueType.UINT64:
      return w.u64(BigInt(value as number | bigint));
    case GgufValueType.INT64:
      [view, at] = w.put(8);
      return view.setBigInt64(at, BigInt(value as number | bigint), true);
    case GgufValueType.FLOAT64:
      [view, at] = w.put(8);
      return view.setFloat64(at, Number(value), true);
    default:
      // An unknown type has no encoding; only its id is written, for malformed-file tests.
      return;
  }
}

function tensorBytes(t: GgufWriteTensor): number {
  if (t.data) return t.data.length;
  if (!isGgmlType(t.type)) return 0;
  const { blockSize, typeSize } = GGML_TYPES[t.type];
  const n = t.ne.reduce((a, b) => a * b, 1);
  return Math.ceil(n / blockSize) * typeSize;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/**
 * Encodes a little-endian GGUF file in memory. The writer checks nothing, so it can
 * build malformed files for tests as well as valid ones. The alignment is taken from a
 * `general.alignment` entry, default 32.
 */
export function encodeGguf(spec: GgufWriteSpec): Uint8Array<ArrayBuffer> {
  const metadata = spec.metadata ?? [];
  const tensors = spec.tensors ?? [];
  const alignEntry = metadata.find((kv) => kv.key === "general.alignment");
  const alignment = typeof alignEntry?.value === "number" && alignEntry.value > 0
    ? alignEntry.value
    : 32;

  const w = new ByteWriter();
  w.bytes(encoder.encode("GGUF"));
  w.u32(spec.version ?? 3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const kv of metadata) {
    w.string(kv.key);
    w.u32(kv.type);
    writeValue(w, kv.type, kv.value);
  }

  const offsets: number[] = [];
  let next = 0;
  for (const t of tensors) {
    const offset = t.offset ?? next;
    offsets.push(offset);
    next = alignUp(offset + tensorBytes(t), alignment);
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    const [view, at] = w.put(4);
    view.setInt32(at, t.type, true);
    w.u64(offset);
  }
  if (tensors.length === 0) return w.buf.slice(0, w.length);

  const dataOffset = alignUp(w.length, alignment);
  if (spec.headerOnly) {
    const header = new Uint8Array(dataOffset);
    header.set(w.buf.subarray(0, w.length));
    return header;
  }
  let end = dataOffset;
  tensors.forEach((t, i) => {
    end = Math.max(end, alignUp(dataOffset + offsets[i] + tensorBytes(t), alignment));
  });
  const out = new Uint8Array(end);
  out.set(w.buf.subarray(0, w.length));
  tensors.forEach((t, i) => {
    if (t.data) out.set(t.data, dataOffset + offsets[i]);
  });
  return out;
}
