import { GgufError } from "./errors.ts";
import { GGML_TYPES } from "./ggml_type.ts";
import { llamaHparams } from "./hparams.ts";
import { type GgufFile, type GgufValue, GgufValueType } from "./types.ts";

/**
 * Options for `formatInspect`.
 *
 * @example Show long arrays in full
 * ```ts ignore
 * import { formatInspect, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * console.log(formatInspect(file, { maxArrayItems: Infinity }));
 * ```
 */
export interface InspectOptions {
  /** Array elements shown before the rest is summarised; default 6. */
  maxArrayItems?: number;
  /** Characters of a string value shown; default 80. */
  maxStringLength?: number;
}

function formatString(text: string, max: number): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max))}... (${text.length} characters)`;
}

/** Shortest decimal that reads back as the same float32: 1e-5, not 0.000009999999747. */
function formatFloat32(value: number): string {
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(value);
}

function formatScalar(value: unknown, maxString: number, float32 = false): string {
  if (typeof value === "string") return formatString(value, maxString);
  if (typeof value === "number" && float32) return formatFloat32(value);
  return String(value);
}

function formatValue(
  file: GgufFile,
  key: string,
  value: GgufValue,
  options: Required<InspectOptions>,
): string {
  const type = file.metadataTypes.get(key)!;
  if (type !== GgufValueType.ARRAY) {
    const text = formatScalar(value, options.maxStringLength, type === GgufValueType.FLOAT32);
    return `${GgufValueType[type].padEnd(8)} ${text}`;
  }
  const items = value as ArrayLike<unknown>;
  const elementTypeId = file.arrayTypes.get(key)!;
  const elementType = GgufValueType[elementTypeId];
  const shown: string[] = [];
  const n = Math.min(items.length, options.maxArrayItems);
  for (let i = 0; i < n; i++) {
    const item = items[i];
    shown.push(
      Array.isArray(item) || ArrayBuffer.isView(item)
        ? `[${(item as ArrayLike<unknown>).length} items]`
        : formatScalar(item, 24, elementTypeId === GgufValueType.FLOAT32),
    );
  }
  if (items.length > n) shown.push(`... ${items.length - n} more`);
  return `[${elementType} x ${items.length}] ${shown.join(", ")}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Formats a count with thousands separators: 1234567 -> "1,234,567". */
function grouped(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Formats a count with an SI suffix: 7241732096 -> "7.24 B". */
function shortCount(n: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
  for (const [scale, suffix] of units) {
    if (n >= scale) return `${(n / scale).toFixed(2)} ${suffix}`;
  }
  return String(n);
}

/** Formats a byte count with a binary unit: 1048576 -> "1.00 MiB". */
function shortBytes(n: number): string {
  const units: [number, string][] = [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [
    2 ** 10,
    "KiB",
  ]];
  for (const [scale, suffix] of units) {
    if (n >= scale) return `${(n / scale).toFixed(2)} ${suffix}`;
  }
  return `${n} B`;
}

function table(rows: string[][], rightAligned: Set<number>): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    "  " +
    r.map((cell, c) => rightAligned.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
      .join("  ").trimEnd()
  );
}

function hparamsLine(file: GgufFile): string | undefined {
  if (!file.metadata.has("general.architecture")) return undefined;
  try {
    const h = llamaHparams(file);
    return `hyperparameters (${h.arch}): n_ctx_train ${h.nCtxTrain}, n_embd ${h.nEmbd}, ` +
      `n_layer ${h.nLayer}, n_head ${h.nHead}, n_head_kv ${h.nHeadKv}, n_ff ${h.nFf}, ` +
      `n_rot ${h.nRot}, n_vocab ${h.nVocab}, rope_freq_base ${h.ropeFreqBase}, ` +
      `rms_eps ${formatFloat32(h.fNormRmsEps)}`;
  } catch (error) {
    if (!(error instanceof GgufError)) throw error;
    const what = error.message.slice(0, error.message.indexOf(" ("));
    return `hyperparameters: not a llama-family model (${what} "${error.key}")`;
  }
}

/**
 * Formats a parsed file for people: the header, every metadata key (long strings and
 * arrays shortened), the tensor table (name, type, shape, bytes, file offset), and the
 * parameter count and bits per weight over all tensors.
 *
 * @example Print the header and tensors
 * ```ts ignore
 * import { closeGguf, formatInspect, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("https://example.com/model.gguf"); // reads only the header
 * console.log(formatInspect(file));
 * await closeGguf(file);
 * ```
 */
export function formatInspect(file: GgufFile, options: InspectOptions = {}): string {
  const opts: Required<InspectOptions> = {
    maxArrayItems: options.maxArrayItems ?? 6,
    maxStringLength: options.maxStringLength ?? 80,
  };
  const out: string[] = [];
  const totalSize = file.parts.reduce((sum, p) => sum + p.size, 0);

  out.push(`file: ${file.source}`);
  if (file.parts.length > 1) {
    out.push(`split model, ${file.parts.length} parts:`);
    for (const p of file.parts) {
      out.push(`  ${p.source}: ${grouped(p.size)} bytes, ${p.tensorCount} tensors`);
    }
  }
  out.push(
    `GGUF version ${file.version}, ${grouped(totalSize)} bytes (${shortBytes(totalSize)}), ` +
      `alignment ${file.alignment}, data section at offset ${file.dataOffset}`,
  );
  out.push(`${file.metadata.size} metadata keys, ${file.tensors.length} tensors`);
  const hparams = hparamsLine(file);
  if (hparams) out.push(hparams);

  out.push("", "metadata:");
  const metaRows = [...file.metadata].map(([key, value]) => [
    key,
    formatValue(file, key, value, opts),
  ]);
  if (metaRows.length > 0) out.push(...table(metaRows, new Set()));

  out.push("", "tensors:");
  let params = 0;
  let bytes = 0;
  const byType = new Map<string, { count: number; params: number; bytes: number }>();
  const tensorRows = [["name", "type", "shape", "bytes", "offset"]];
  for (const t of file.tensors) {
    const typeName = GGML_TYPES[t.type].name;
    const part = file.parts.length > 1 ? ` (part ${t.split + 1})` : "";
    tensorRows.push([
      t.name,
      typeName,
      `[${t.ne.join(", ")}]`,
      grouped(t.nBytes),
      `${t.fileOffset}${part}`,
    ]);
    params += t.nElements;
    bytes += t.nBytes;
    const entry = byType.get(typeName) ?? { count: 0, params: 0, bytes: 0 };
    entry.count++;
    entry.params += t.nElements;
    entry.bytes += t.nBytes;
    byType.set(typeName, entry);
  }
  if (file.tensors.length > 0) out.push(...table(tensorRows, new Set([3, 4])));
  else out.push("  (none)");

  out.push("");
  const bpw = params > 0 ? ((bytes * 8) / params).toFixed(2) : "n/a";
  out.push(
    `parameters: ${grouped(params)} (${shortCount(params)}), tensor data: ${grouped(bytes)} ` +
      `bytes (${shortBytes(bytes)}), bits per weight: ${bpw}`,
  );
  for (const [name, e] of [...byType].sort((a, b) => b[1].bytes - a[1].bytes)) {
    const typeBpw = e.params > 0 ? ((e.bytes * 8) / e.params).toFixed(2) : "n/a";
    out.push(
      `  ${name}: ${plural(e.count, "tensor")}, ${grouped(e.params)} parameters, ` +
        `${typeBpw} bits per weight`,
    );
  }
  return out.join("\n") + "\n";
}
