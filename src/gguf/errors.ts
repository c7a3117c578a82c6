/**
 * Where in a GGUF file a problem was found.
 *
 * @example The context of a bad magic number
 * ```ts
 * import { GgufError, type GgufErrorContext } from "@flint/flint";
 *
 * const context: GgufErrorContext = {
 *   source: "m.gguf",
 *   offset: 0,
 *   found: "0x00000000",
 *   expected: "GGUF",
 * };
 * throw new GgufError("not a GGUF file", context);
 * ```
 */
export interface GgufErrorContext {
  /** File path, URL or other name of the source. */
  source: string;
  /** Absolute byte offset in the file, when known. */
  offset?: number;
  /** Metadata key being read, when any. */
  key?: string;
  /** Tensor being read, when any. */
  tensor?: string;
  /** Value found in the file, rendered as text. */
  found?: string;
  /** What a valid file has there. */
  expected?: string;
  /** Likely cause and fix, for problems with a known remedy. */
  hint?: string;
}

/**
 * A malformed, unsupported or unreadable GGUF file. It is the only error the reader
 * throws; the fields locate the problem.
 *
 * @example Report where a file is malformed
 * ```ts ignore
 * import { GgufError, readGguf } from "@flint/flint";
 *
 * try {
 *   await readGguf(new Uint8Array([1, 2, 3, 4]));
 * } catch (error) {
 *   if (error instanceof GgufError) console.error(error.source, error.offset, error.expected);
 * }
 * ```
 */
export class GgufError extends SyntaxError {
  /** File path, URL or other name of the source. */
  readonly source: string;
  /** Absolute byte offset in the file, when known. */
  readonly offset?: number;
  /** Metadata key being read, when any. */
  readonly key?: string;
  /** Tensor being read, when any. */
  readonly tensor?: string;
  /** Value found in the file, rendered as text. */
  readonly found?: string;
  /** What a valid file has there. */
  readonly expected?: string;
  /** Likely cause and fix, for problems with a known remedy. */
  readonly hint?: string;

  /** Builds the message from `message` and the context that locates the problem. */
  constructor(message: string, context: GgufErrorContext, options?: ErrorOptions) {
    super(formatMessage(message, context), options);
    this.name = "GgufError";
    this.source = context.source;
    this.offset = context.offset;
    this.key = context.key;
    this.tensor = context.tensor;
    this.found = context.found;
    this.expected = context.expected;
    this.hint = context.hint;
  }
}

function formatMessage(message: string, context: GgufErrorContext): string {
  const where = [`"${context.source}"`];
  if (context.offset !== undefined) where.push(`offset ${context.offset}`);
  if (context.key !== undefined) where.push(`key "${context.key}"`);
  if (context.tensor !== undefined) where.push(`tensor "${context.tensor}"`);
  let text = `${message} (${where.join(", ")})`;
  if (context.found !== undefined || context.expected !== undefined) {
    const parts = [];
    if (context.found !== undefined) parts.push(`found ${context.found}`);
    if (context.expected !== undefined) parts.push(`expected ${context.expected}`);
    text += `: ${parts.join(", ")}`;
  }
  if (context.hint !== undefined) text += `. ${context.hint}`;
  return text;
}
