/**
 * A tokenizer that cannot be built from a GGUF's `tokenizer.ggml.*` metadata, or a request
 * the tokenizer cannot serve (an unknown template name, an id outside the vocabulary).
 *
 * @example An unsupported vocabulary
 * ```ts ignore
 * import { loadModel, TokenizerError } from "@flint/flint";
 *
 * try {
 *   await loadModel("model-with-unknown-pre-tokenizer.gguf");
 * } catch (error) {
 *   if (error instanceof TokenizerError) console.error(error.key, error.found);
 * }
 * ```
 */
export class TokenizerError extends Error {
  /** Metadata key involved, when any. */
  readonly key?: string;
  /** The offending value, rendered as text. */
  readonly found?: string;

  /** Creates the error; `context` names the metadata key and the value found. */
  constructor(message: string, context: { key?: string; found?: string } = {}) {
    super(message);
    this.name = "TokenizerError";
    this.key = context.key;
    this.found = context.found;
  }
}
