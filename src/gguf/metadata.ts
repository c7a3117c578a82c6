import { GgufError } from "./errors.ts";
import { type GgufFile, type GgufValue, GgufValueType } from "./types.ts";

const INTEGER_TYPES = new Set([
  GgufValueType.UINT8,
  GgufValueType.INT8,
  GgufValueType.UINT16,
  GgufValueType.INT16,
  GgufValueType.UINT32,
  GgufValueType.INT32,
  GgufValueType.UINT64,
  GgufValueType.INT64,
]);

function describe(file: GgufFile, key: string, value: GgufValue): string {
  const type = GgufValueType[file.metadataTypes.get(key)!];
  if (typeof value === "string") return `${type} ${JSON.stringify(value.slice(0, 80))}`;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const elementType = GgufValueType[file.arrayTypes.get(key)!];
    return `ARRAY of ${(value as ArrayLike<unknown>).length} ${elementType}`;
  }
  return `${type} ${String(value)}`;
}

/** Throws the error for a key whose value has the wrong type or range. */
export function invalidKey(file: GgufFile, key: string, expected: string): never {
  throw new GgufError("invalid metadata value", {
    source: file.source,
    key,
    found: describe(file, key, file.metadata.get(key)!),
    expected,
  });
}

/** Throws the error for a required key that is absent. */
export function missingKey(file: GgufFile, key: string, expected: string): never {
  throw new GgufError("missing metadata key", { source: file.source, key, expected });
}

/** Returns an integer key of any integer type, or undefined when absent. */
export function optionalInteger(
  file: GgufFile,
  key: string,
  min = Number.MIN_SAFE_INTEGER,
): number | undefined {
  if (!file.metadata.has(key)) return undefined;
  const value = file.metadata.get(key);
  if (
    !INTEGER_TYPES.has(file.metadataTypes.get(key)!) || typeof value !== "number" || value < min
  ) {
    invalidKey(file, key, min === 0 ? "a non-negative integer" : `an integer >= ${min}`);
  }
  return value;
}

/** Returns a float key of any numeric type, or undefined when absent. */
export function optionalFloat(file: GgufFile, key: string): number | undefined {
  if (!file.metadata.has(key)) return undefined;
  const value = file.metadata.get(key);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    invalidKey(file, key, "a finite number");
  }
  return value;
}

/** Returns a string key, or undefined when absent. */
export function optionalString(file: GgufFile, key: string): string | undefined {
  if (!file.metadata.has(key)) return undefined;
  const value = file.metadata.get(key);
  if (typeof value !== "string") invalidKey(file, key, "a STRING");
  return value;
}

/** Returns a bool key, or undefined when absent. */
export function optionalBool(file: GgufFile, key: string): boolean | undefined {
  if (!file.metadata.has(key)) return undefined;
  const value = file.metadata.get(key);
  if (typeof value !== "boolean") invalidKey(file, key, "a BOOL");
  return value;
}

/** Returns an array key with the given element type, or undefined when absent. */
export function optionalArray<T extends GgufValue>(
  file: GgufFile,
  key: string,
  elementTypes: GgufValueType[],
): T | undefined {
  if (!file.metadata.has(key)) return undefined;
  const elementType = file.arrayTypes.get(key);
  if (elementType === undefined || !elementTypes.includes(elementType)) {
    invalidKey(file, key, `an ARRAY of ${elementTypes.map((t) => GgufValueType[t]).join(" or ")}`);
  }
  return file.metadata.get(key) as T;
}
