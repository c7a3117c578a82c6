/** A chat template that cannot be chosen, parsed or rendered. */
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
