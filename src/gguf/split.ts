import { GgufError } from "./errors.ts";
import type { ParsedHeader } from "./parse.ts";
import type { GgufValue } from "./types.ts";

/** gguf-split's naming: `<prefix>-00001-of-00003.gguf`, numbered from 1. */
const SPLIT_NAME = /-(\d{5})-of-(\d{5})\.gguf$/;

/** Part number (from 1) and part count encoded in a split file's name. */
export interface SplitName {
  no: number;
  count: number;
}

/** Returns the part number and count in a path or URL path, or undefined if it has none. */
export function parseSplitName(path: string): SplitName | undefined {
  const m = path.match(SPLIT_NAME);
  if (!m) return undefined;
  return { no: Number(m[1]), count: Number(m[2]) };
}

function pad5(n: number): string {
  return String(n).padStart(5, "0");
}

/**
 * Returns the name of part `no` (from 1) of `count`, given the name of any part: a path
 * or an http(s) URL, whose query string is kept.
 */
export function splitPartName(name: string, no: number, count: number): string {
  const suffix = `-${pad5(no)}-of-${pad5(count)}.gguf`;
  if (/^https?:\/\//i.test(name)) {
    const url = new URL(name);
    url.pathname = url.pathname.replace(SPLIT_NAME, suffix);
    return url.href;
  }
  return name.replace(SPLIT_NAME, suffix);
}

/** Returns the part of a path or URL string that ends in the split suffix. */
export function splitNameTarget(name: string): string {
  return /^https?:\/\//i.test(name) ? new URL(name).pathname : name;
}

/** Reads an integer split key; undefined when absent, a GgufError when not an integer. */
export function splitKey(
  metadata: Map<string, GgufValue>,
  key: string,
  source: string,
): number | undefined {
  if (!metadata.has(key)) return undefined;
  const value = metadata.get(key);
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new GgufError("invalid split key", {
      source,
      key,
      found: String(value),
      expected: "a non-negative integer",
    });
  }
  return value;
}

/**
 * Checks the split keys of part `index` of `count` (from 0): `split.no` must be the
 * index and `split.count` the count.
 */
export function checkSplitPart(
  header: ParsedHeader,
  source: string,
  index: number,
  count: number,
): void {
  const no = splitKey(header.metadata, "split.no", source);
  const total = splitKey(header.metadata, "split.count", source);
  if (no === undefined || total === undefined) {
    throw new GgufError("split part lacks its split keys", {
      source,
      key: no === undefined ? "split.no" : "split.count",
      expected: `split.no = ${index} and split.count = ${count}`,
      hint: "Each part of a split model carries split.no and split.count; " +
        "split the model again with llama-gguf-split",
    });
  }
  if (no !== index) {
    throw new GgufError("split part out of order", {
      source,
      key: "split.no",
      found: `${no}`,
      expected: `${index}`,
    });
  }
  if (total !== count) {
    throw new GgufError("split parts disagree on the part count", {
      source,
      key: "split.count",
      found: `${total}`,
      expected: `${count}`,
    });
  }
}
