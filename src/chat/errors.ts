/**
 * A chat template that cannot be chosen, parsed or rendered.
 *
 * @example A template that fails to parse
 * ```ts ignore
 * import { applyChatTemplate, ChatTemplateError, loadModel } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * try {
 *   applyChatTemplate([{ role: "user", content: "Hi" }], tokenizer, {
 *     template: { kind: "jinja", source: "{% for %}" },
 *   });
 * } catch (error) {
 *   if (error instanceof ChatTemplateError) console.error(error.message);
 * }
 * ```
 */
export class ChatTemplateError extends Error {
  /** Template name or the first characters of a Jinja source, when known. */
  readonly template?: string;

  /** Creates the error; `options.cause` carries a Jinja parse or render failure. */
  constructor(message: string, options: { template?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ChatTemplateError";
    this.template = options.template;
  }
}
