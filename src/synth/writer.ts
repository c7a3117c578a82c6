/**
 * Streams a GGUF file (version 3, little-endian, alignment 32) to disk: the header is
 * built in memory, tensor data is written as it is produced.
 */
import { GGML_TYPES, type GgmlType, GgufValueType } from "../gguf/mod.ts";

/** A metadata value with its GGUF type; arrays give their element type. */
export type SynthValue =
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32; value: number }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.ARRAY; elementType: GgufValueType.STRING; value: string[] }
  | {
    type: GgufValueType.ARRAY;
    elementType: GgufValueType.FLOAT32 | GgufValueType.INT32 | GgufValueType.UINT32;
    value: ArrayLike<number>;
  };

/** One tensor to write: name, shape (`ne`) and type; the data comes from a callback. */
export interface SynthTensor {
  name: string;
  ne: number[];
  type: GgmlType;
}

export const ALIGNMENT = 32;

/** Byte size of a tensor's data. */
export function tensorBytes(t: SynthTensor): number {
  const { blockSize, typeSize } = GGML_TYPES[t.type];
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (t.ne[0] % blockSize !== 0) {
    throw new RangeError(
      `tensor "${t.name}": row length ${t.ne[0]} is not a multiple of ${
        GGML_TYPES[t.type].name
      }'s block size ${blockSize}`,
    );
  }
  return (n / blockSize) * typeSize;
}

class ByteBuilder {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #reserve(n: number) {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u32(v: number) {
    this.#reserve(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.#reserve(4);
    this.#view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.#reserve(4);
    this.#view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number) {
    this.#reserve(8);
    this.#view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  u8(v: number) {
    this.#reserve(1);
    this.#buf[this.length++] = v;
  }
  bytes(b: Uint8Array) {
    this.#reserve(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(align: number) {
    while (this.length % align !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

function writeValue(b: ByteBuilder, v: SynthValue) {
  b.u32(v.type);
  switch (v.type) {
    case GgufValueType.STRING:
      b.string(v.value);
      return;
    case GgufValueType.UINT32:
      b.u32(v.value);
      return;
    case GgufValueType.INT32:
      b.i32(v.value);
      return;
    case GgufValueType.FLOAT32:
      b.f32(v.value);
      return;
    case GgufValueType.BOOL:
      b.u8(v.value ? 1 : 0);
      return;
    case GgufValueType.ARRAY: {
      b.u32(v.elementType);
      b.u64(v.value.length);
      if (v.elementType === GgufValueType.STRING) {
        for (const s of v.value as string[]) b.string(s);
        return;
      }
      const values = v.value as ArrayLike<number>;
      for (let i = 0; i < values.length; i++) {
        if (v.elementType === GgufValueType.FLOAT32) b.f32(values[i]);
        else if (v.elementType === GgufValueType.INT32) b.i32(values[i]);
        else b.u32(values[i]);
      }
    }
  }
}

/** Serializes the header: metadata, tensor infos and padding up to the data section. */
export function encodeHeader(
  metadata: [string, SynthValue][],
  tensors: SynthTensor[],
): Uint8Array {
  const b = new ByteBuilder();
  b.bytes(new TextEncoder().encode("GGUF"));
  b.u32(3);
  b.u64(tensors.length);
  b.u64(metadata.length);
  for (const [key, value] of metadata) {
    b.string(key);
    writeValue(b, value);
  }
  let offset = 0;
  for (const t of tensors) {
    b.string(t.name);
    b.u32(t.ne.length);
    for (const d of t.ne) b.u64(d);
    b.u32(t.type);
    b.u64(offset);
    offset += Math.ceil(tensorBytes(t) / ALIGNMENT) * ALIGNMENT;
  }
  b.padTo(ALIGNMENT);
  return b.result();
}

/**
 * Writes a GGUF file. `fill(tensor, dest, byteOffset)` fills `dest` with the tensor's
 * bytes starting at `byteOffset` within that tensor; chunks are at most `chunkBytes`.
 */
export async function writeGguf(
  path: string,
  metadata: [string, SynthValue][],
  tensors: SynthTensor[],
  fill: (tensor: SynthTensor, dest: Uint8Array, byteOffset: number) => void,
  options: { chunkBytes?: number; onProgress?: (written: number, total: number) => void } = {},
): Promise<number> {
  const chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
  const header = encodeHeader(metadata, tensors);
  let total = header.length;
  for (const t of tensors) total += Math.ceil(tensorBytes(t) / ALIGNMENT) * ALIGNMENT;

  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    const writeAll = async (bytes: Uint8Array) => {
      let done = 0;
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
      written += bytes.length;
    };
    await writeAll(header);
    const chunk = new Uint8Array(chunkBytes);
    for (const t of tensors) {
      const n = tensorBytes(t);
      for (let off = 0; off < n; off += chunkBytes) {
        const dest = chunk.subarray(0, Math.min(chunkBytes, n - off));
        fill(t, dest, off);
        await writeAll(dest);
      }
      const pad = Math.ceil(n / ALIGNMENT) * ALIGNMENT - n;
      if (pad > 0) await writeAll(new Uint8Array(pad));
      options.onProgress?.(written, total);
    }
  } finally {
    file.close();
  }
  return total;
}
