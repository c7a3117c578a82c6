/**
 * Location of a model problem and the value expected there.
 *
 * @example The context of a missing tensor
 * ```ts ignore
 * import { type ModelErrorContext, ModelError } from "@flint/flint";
 *
 * const context: ModelErrorContext = { source: "m.gguf", tensor: "output_norm.weight" };
 * throw new ModelError("missing tensor", context);
 * ```
 */
export interface ModelErrorContext {
  /** File path or other name of the model source. */
  source: string;
  /** Metadata key, when the problem is in the metadata. */
  key?: string;
  /** Tensor name, when the problem is a tensor. */
  tensor?: string;
  /** Value found, rendered as text. */
  found?: string;
  /** What a usable model has there. */
  expected?: string;
}

/**
 * A GGUF file that parses but cannot be run as a llama model: a missing or invalid
 * hyperparameter, a missing tensor, or a tensor of the wrong shape or type.
 *
 * @example Report which tensor or key is wrong
 * ```ts ignore
 * import { loadModel, ModelError } from "@flint/flint";
 *
 * try {
 *   await loadModel("not-a-llama.gguf");
 * } catch (error) {
 *   if (error instanceof ModelError) console.error(error.key ?? error.tensor, error.found);
 * }
 * ```
 */
export class ModelError extends Error {
  /** File path or other name of the model source. */
  readonly source: string;
  /** Metadata key, when the problem is in the metadata. */
  readonly key?: string;
  /** Tensor name, when the problem is a tensor. */
  readonly tensor?: string;
  /** Value found, rendered as text. */
  readonly found?: string;
  /** What a usable model has there. */
  readonly expected?: string;

  /** Builds the message from `message` and the context, as in `... (source, key "k"): found x, expected y`. */
  constructor(message: string, context: ModelErrorContext, options?: ErrorOptions) {
    const where = [`"${context.source}"`];
    if (context.key !== undefined) where.push(`key "${context.key}"`);
    if (context.tensor !== undefined) where.push(`tensor "${context.tensor}"`);
    let text = `${message} (${where.join(", ")})`;
    const parts = [];
    if (context.found !== undefined) parts.push(`found ${context.found}`);
    if (context.expected !== undefined) parts.push(`expected ${context.expected}`);
    if (parts.length > 0) text += `: ${parts.join(", ")}`;
    super(text, options);
    this.name = "ModelError";
    this.source = context.source;
    this.key = context.key;
    this.tensor = context.tensor;
    this.found = context.found;
    this.expected = context.expected;
  }
}

/**
 * A request that does not fit the session's context, or an invalid token id.
 *
 * @example A prompt longer than the context
 * ```ts ignore
 * import { ContextError, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf", { nCtx: 8 });
 * try {
 *   model.createSession().generate("a prompt of more than eight tokens, surely");
 * } catch (error) {
 *   if (error instanceof ContextError) console.error(error.message);
 * }
 * ```
 */
export class ContextError extends RangeError {
  /** Creates the error; `options.cause` carries the underlying failure. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ContextError";
  }
}
