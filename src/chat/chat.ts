import type { ChatMessage } from "../engine/types.ts";
import type { TokenizerSource } from "../tokenizer/mod.ts";
import type { Tokenizer } from "../tokenizer/mod.ts";
import {
  BUILTIN_TEMPLATES,
  type BuiltinTemplateName,
  renderBuiltin,
  type RenderedPrompt,
} from "./builtin.ts";
import { ChatTemplateError } from "./errors.ts";
import { JinjaChatTemplate } from "./jinja.ts";

/**
 * Receives the template choice and fallbacks; library code never logs on its own.
 *
 * @example See which template was chosen
 * ```ts ignore
 * import { chooseChatTemplate, readGguf } from "@flint/flint";
 *
 * const file = await readGguf("models/stories260K.gguf");
 * chooseChatTemplate(file, { logger: { info: (message) => console.log(message) } });
 * ```
 */
export interface ChatLogger {
  /** Detail for debugging. */
  debug?(message: string): void;
  /** The template chosen and why. */
  info?(message: string): void;
  /** A fallback, such as a Jinja template that failed to render. */
  warn?(message: string): void;
}

/**
 * A chat template: a built-in format, or Jinja source (usually the GGUF's own).
 *
 * @example A Jinja template of your own
 * ```ts
 * import type { ChatTemplate } from "@flint/flint";
 *
 * const template: ChatTemplate = {
 *   kind: "jinja",
 *   source: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:",
 * };
 * ```
 */
export type ChatTemplate =
  | { kind: "builtin"; name: BuiltinTemplateName }
  | { kind: "jinja"; source: string };

/**
 * The template `chooseChatTemplate` picked and why.
 *
 * @example Log why a template was chosen
 * ```ts ignore
 * import { chooseChatTemplate, readGguf } from "@flint/flint";
 *
 * const choice = chooseChatTemplate(await readGguf("models/stories260K.gguf"));
 * console.log(`${choice.name}: ${choice.reason}`);
 * ```
 */
export interface ChatTemplateChoice {
  /** The template to apply. */
  template: ChatTemplate;
  /** Human-readable name: a built-in name, or "gguf" for `tokenizer.chat_template`. */
  name: string;
  /** Why this template was chosen, for logs. */
  reason: string;
}

/** Names that select Vicuna: WizardLM-2 and Vicuna models. */
const VICUNA_NAME = /wizardlm[-_ ]?2|vicuna/i;

/**
 * Picks the chat template for a model. A forced template (a built-in name, "gguf", or
 * Jinja source) wins. Otherwise the GGUF's `tokenizer.chat_template` is used if present,
 * then Vicuna when `general.name` or `general.basename` names WizardLM-2 or Vicuna, and
 * ChatML last, because llama.cpp falls back to it. The choice goes to `logger.info`.
 *
 * @example Pick the template a GGUF asks for
 * ```ts ignore
 * import { applyChatTemplate, chooseChatTemplate, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * const template = chooseChatTemplate(model.file);
 * const prompt = applyChatTemplate([{ role: "user", content: "Hi" }], model.tokenizer, { template });
 * ```
 */
export function chooseChatTemplate(
  file: TokenizerSource,
  options: { force?: string; logger?: ChatLogger } = {},
): ChatTemplateChoice {
  const choice = pick(file, options.force);
  options.logger?.info?.(`chat template: ${choice.name} (${choice.reason})`);
  return choice;
}

function pick(file: TokenizerSource, force: string | undefined): ChatTemplateChoice {
  const stored = file.metadata.get("tokenizer.chat_template");
  if (force !== undefined) {
    if ((BUILTIN_TEMPLATES as readonly string[]).includes(force)) {
      return {
        template: { kind: "builtin", name: force as BuiltinTemplateName },
        name: force,
        reason: "forced",
      };
    }
    if (force === "gguf") {
      if (typeof stored !== "string") {
        throw new ChatTemplateError(
          `chat template "gguf" requested, but ${file.source} has no tokenizer.chat_template`,
          { template: force },
        );
      }
      return { template: { kind: "jinja", source: stored }, name: "gguf", reason: "forced" };
    }
    if (force.includes("{%") || force.includes("{{")) {
      return { template: { kind: "jinja", source: force }, name: "jinja", reason: "forced" };
    }
    throw new ChatTemplateError(
      `unknown chat template "${force}": expected one of ${BUILTIN_TEMPLATES.join(", ")}, ` +
        `"gguf", or Jinja source`,
      { template: force },
    );
  }

  if (typeof stored === "string" && stored.trim() !== "") {
    return {
      template: { kind: "jinja", source: stored },
      name: "gguf",
      reason: `tokenizer.chat_template of ${file.source}`,
    };
  }
  for (const key of ["general.name", "general.basename"]) {
    const value = file.metadata.get(key);
    if (typeof value === "string" && VICUNA_NAME.test(value)) {
      return {
        template: { kind: "builtin", name: "vicuna" },
        name: "vicuna",
        reason: `${key} is "${value}"`,
      };
    }
  }
  return {
    template: { kind: "builtin", name: "chatml" },
    name: "chatml",
    reason: "no tokenizer.chat_template and no known model name; ChatML is llama.cpp's fallback",
  };
}

/** Options of `applyChatTemplate`. */
/**
 * Options of `applyChatTemplate`.
 *
 * @example A prompt without the assistant opening
 * ```ts
 * import type { ApplyChatTemplateOptions } from "@flint/flint";
 *
 * const options: ApplyChatTemplateOptions = { template: "llama3", addGenerationPrompt: false };
 * ```
 */
export interface ApplyChatTemplateOptions {
  /**
   * The template: a choice from `chooseChatTemplate`, a `ChatTemplate`, or a built-in
   * name. Default: ChatML.
   */
  template?: ChatTemplateChoice | ChatTemplate | BuiltinTemplateName;
  /** End with the opening of an assistant turn. Default true. */
  addGenerationPrompt?: boolean;
  /** Receives warnings about template fallbacks. */
  logger?: ChatLogger;
}

/**
 * A chat prompt ready to evaluate.
 *
 * @example Inspect a rendered prompt
 * ```ts ignore
 * import { applyChatTemplate, loadModel } from "@flint/flint";
 *
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * const prompt = applyChatTemplate([{ role: "user", content: "Hi" }], tokenizer);
 * console.log(prompt.template, prompt.text, prompt.tokens);
 * ```
 */
export interface ChatPrompt {
  /** Token ids, BOS first when the model adds one. */
  tokens: number[];
  /** The prompt text, special tokens written as their text, without the BOS the tokenizer adds. */
  text: string;
  /** Name of the template used. */
  template: string;
}

const templateCache = new Map<string, JinjaChatTemplate>();

/**
 * Builds a chat prompt as token ids. Template markers become their special-token ids;
 * message content is tokenized as plain text, so `</s>` or `<|im_end|>` typed by a user
 * stays text. For content without special-token text, the ids equal llama.cpp's
 * tokenization of `text` with special-token parsing.
 *
 * @example A ChatML prompt for a model's tokenizer
 * ```ts ignore
 * import { applyChatTemplate, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * const prompt = applyChatTemplate(
 *   [{ role: "user", content: "Hello" }],
 *   model.tokenizer,
 *   { template: "chatml" },
 * );
 * console.log(prompt.text, prompt.tokens.length);
 * ```
 */
export function applyChatTemplate(
  messages: ChatMessage[],
  tokenizer: Tokenizer,
  options: ApplyChatTemplateOptions = {},
): ChatPrompt {
  const addGenerationPrompt = options.addGenerationPrompt ?? true;
  const { template, name } = resolve(options.template);

  let rendered: RenderedPrompt;
  if (template.kind === "builtin") {
    rendered = renderBuiltin(template.name, messages, tokenizer, addGenerationPrompt);
  } else {
    let jinja = templateCache.get(template.source);
    if (jinja === undefined) {
      jinja = new JinjaChatTemplate(template.source);
      templateCache.set(template.source, jinja);
    }
    rendered = jinja.render(
      messages,
      tokenizer,
      addGenerationPrompt,
      (reason) => options.logger?.warn?.(`chat template ${name}: ${reason}`),
    );
  }

  // Templates that write BOS themselves would otherwise get a second one from the
  // tokenizer; drop theirs, as llama.cpp does.
  let { parts, text } = rendered;
  if (tokenizer.addBos && tokenizer.bos >= 0) {
    const bosText = tokenizer.tokenText(tokenizer.bos);
    const first = parts[0];
    if (first !== undefined && "token" in first && first.token === tokenizer.bos) {
      parts = parts.slice(1);
      text = text.slice(bosText.length);
    } else if (
      first !== undefined && "text" in first && first.parseSpecial &&
      first.text.startsWith(bosText)
    ) {
      parts = [{ ...first, text: first.text.slice(bosText.length) }, ...parts.slice(1)];
      text = text.slice(bosText.length);
    }
  }
  return { tokens: tokenizer.encodeParts(parts, { addSpecial: true }), text, template: name };
}

function resolve(
  template: ApplyChatTemplateOptions["template"],
): { template: ChatTemplate; name: string } {
  if (template === undefined) {
    return { template: { kind: "builtin", name: "chatml" }, name: "chatml" };
  }
  if (typeof template === "string") {
    if (!(BUILTIN_TEMPLATES as readonly string[]).includes(template)) {
      throw new ChatTemplateError(
        `unknown chat template "${template}": expected one of ${BUILTIN_TEMPLATES.join(", ")}`,
        { template },
      );
    }
    return { template: { kind: "builtin", name: template }, name: template };
  }
  if ("template" in template) return { template: template.template, name: template.name };
  return { template, name: template.kind === "builtin" ? template.name : "jinja" };
}
