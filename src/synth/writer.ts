/**
 * Streams a GGUF file (version 3, little-endian, alignment 32) to disk: the header is
 * built in memory, tensor data is written as it is produced.
 */
import {
  encodeGguf,
  GGML_TYPES,
  type GgmlType,
  GgufValueType,
  type GgufWriteKv,
} from "../gguf/mod.ts";

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

/** Serializes the header: metadata, tensor infos and padding up to the data section. */
export function encodeHeader(
  metadata: [string, SynthValue][],
  tensors: SynthTensor[],
): Uint8Array {
  let offset = 0;
  const infos = tensors.map((t) => {
    const info = { name: t.name, ne: t.ne, type: t.type, offset };
    offset += Math.ceil(tensorBytes(t) / ALIGNMENT) * ALIGNMENT;
    return info;
  });
  const kvs = metadata.map(([key, v]): GgufWriteKv =>
    v.type === GgufValueType.ARRAY
      ? { key, type: v.type, value: { elementType: v.elementType, values: v.value } }
      : { key, type: v.type, value: v.value }
  );
  const header = encodeGguf({ metadata: kvs, tensors: infos, headerOnly: true });
  // encodeGguf leaves a file without tensors unpadded; the data section starts aligned.
  if (header.length % ALIGNMENT === 0) return header;
  const padded = new Uint8Array(Math.ceil(header.length / ALIGNMENT) * ALIGNMENT);
  padded.set(header);
  return padded;
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
