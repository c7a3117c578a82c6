import type { ChatMessage } from "../engine/types.ts";
import type { PromptPart, Tokenizer } from "../tokenizer/mod.ts";

/**
 * The built-in chat formats.
 *
 * @example Force ChatML
 * ```ts ignore
 * import { applyChatTemplate, type BuiltinTemplateName, loadModel } from "@flint/flint";
 *
 * const name: BuiltinTemplateName = "chatml";
 * const { tokenizer } = await loadModel("models/stories260K.gguf");
 * applyChatTemplate([{ role: "user", content: "Hi" }], tokenizer, { template: name });
 * ```
 */
export type BuiltinTemplateName = "vicuna" | "chatml" | "llama2" | "llama3" | "mistral";

/**
 * Every built-in chat format, for option validation and help text.
 *
 * @example Validate a template name
 * ```ts
 * import { BUILTIN_TEMPLATES, type BuiltinTemplateName } from "@flint/flint";
 *
 * function isBuiltin(name: string): name is BuiltinTemplateName {
 *   return (BUILTIN_TEMPLATES as readonly string[]).includes(name);
 * }
 * ```
 */
export const BUILTIN_TEMPLATES: readonly BuiltinTemplateName[] = [
  "vicuna",
  "chatml",
  "llama2",
  "llama3",
  "mistral",
];

/**
 * WizardLM-2's default system sentence, the one Vicuna v1.1 uses.
 *
 * @example Start a Vicuna conversation
 * ```ts
 * import { type ChatMessage, VICUNA_SYSTEM_PROMPT } from "@flint/flint";
 *
 * const messages: ChatMessage[] = [
 *   { role: "system", content: VICUNA_SYSTEM_PROMPT },
 *   { role: "user", content: "Hello" },
 * ];
 * ```
 */
export const VICUNA_SYSTEM_PROMPT: string = "A chat between a curious user and an artificial " +
  "intelligence assistant. The assistant gives helpful, detailed, and polite answers to " +
  "the user's questions.";

/**
 * Builds prompt parts: literal text, message text, and marker tokens. A marker becomes
 * its token id when the vocabulary has a special token (CONTROL, USER_DEFINED or
 * UNKNOWN) with that text, and plain text otherwise, as llama.cpp's special-token
 * parsing would leave it.
 */
class PartsBuilder {
  readonly parts: PromptPart[] = [];
  text = "";

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Appends template text or message content; neither is scanned for special tokens. */
  literal(text: string): this {
    this.parts.push({ text });
    this.text += text;
    return this;
  }

  /** Appends a marker such as `<|im_start|>`. */
  marker(text: string): this {
    const id = this.tokenizer.tokenId(text);
    if (id !== undefined && this.tokenizer.isSpecial(id)) this.parts.push({ token: id });
    else this.parts.push({ text });
    this.text += text;
    return this;
  }

  /** Appends the token with this id, written as its stored text. */
  token(id: number): this {
    this.parts.push({ token: id });
    this.text += this.tokenizer.tokenText(id);
    return this;
  }
}

/** A rendered prompt: parts to tokenize and the equivalent text. */
export interface RenderedPrompt {
  parts: PromptPart[];
  text: string;
}

/** Renders messages with a built-in format. The tokenizer adds BOS itself. */
export function renderBuiltin(
  name: BuiltinTemplateName,
  messages: ChatMessage[],
  tokenizer: Tokenizer,
  addGenerationPrompt: boolean,
): RenderedPrompt {
  const b = new PartsBuilder(tokenizer);
  switch (name) {
    case "vicuna":
      renderVicuna(b, messages, tokenizer, addGenerationPrompt);
      break;
    case "chatml":
      for (const m of messages) {
        b.marker("<|im_start|>").literal(`${m.role}\n`).literal(m.content).marker("<|im_end|>")
          .literal("\n");
      }
      if (addGenerationPrompt) b.marker("<|im_start|>").literal("assistant\n");
      break;
    case "llama3":
      // Each message is trimmed, as Llama-3's published chat template does.
      for (const m of messages) {
        b.marker("<|start_header_id|>").literal(m.role).marker("<|end_header_id|>")
          .literal("\n\n").literal(m.content.trim()).marker("<|eot_id|>");
      }
      if (addGenerationPrompt) {
        b.marker("<|start_header_id|>").literal("assistant").marker("<|end_header_id|>")
          .literal("\n\n");
      }
      break;
    case "llama2":
      renderLlama2(b, messages, tokenizer);
      break;
    case "mistral":
      renderMistral(b, messages, tokenizer);
      break;
  }
  return { parts: b.parts, text: b.text };
}

/** Joins the system messages; returns them and the other messages. */
function splitSystem(messages: ChatMessage[]): { system?: string; turns: ChatMessage[] } {
  const systems = messages.filter((m) => m.role === "system").map((m) => m.content);
  return {
    system: systems.length > 0 ? systems.join("\n") : undefined,
    turns: messages.filter((m) => m.role !== "system"),
  };
}

/**
 * WizardLM-2's Vicuna format: `{system} USER: {user} ASSISTANT: {reply}</s>USER: ...`,
 * every finished reply closed by the EOS id, and ` ASSISTANT:` to prompt the next reply.
 */
function renderVicuna(
  b: PartsBuilder,
  messages: ChatMessage[],
  tokenizer: Tokenizer,
  addGenerationPrompt: boolean,
) {
  const { system, turns } = splitSystem(messages);
  b.literal(system ?? VICUNA_SYSTEM_PROMPT);
  let afterEos = false;
  for (const m of turns) {
    if (m.role === "user") {
      b.literal(afterEos ? "USER: " : " USER: ").literal(m.content);
      afterEos = false;
    } else {
      b.literal(" ASSISTANT: ").literal(m.content).token(tokenizer.eos);
      afterEos = true;
    }
  }
  if (addGenerationPrompt) b.literal(afterEos ? "ASSISTANT:" : " ASSISTANT:");
}

/**
 * Meta's Llama-2 chat format: `[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply} </s>`,
 * each later turn opened by BOS. Messages are trimmed.
 */
function renderLlama2(b: PartsBuilder, messages: ChatMessage[], tokenizer: Tokenizer) {
  const { system, turns } = splitSystem(messages);
  let first = true;
  let pendingSystem = system;
  for (const m of turns) {
    if (m.role === "user") {
      if (!first) b.token(tokenizer.bos);
      first = false;
      b.marker("[INST]").literal(" ");
      if (pendingSystem !== undefined) {
        b.marker("<<SYS>>").literal("\n").literal(pendingSystem.trim()).literal("\n")
          .marker("<</SYS>>").literal("\n\n");
        pendingSystem = undefined;
      }
      b.literal(m.content.trim()).literal(" ").marker("[/INST]");
    } else {
      b.literal(" ").literal(m.content.trim()).literal(" ").token(tokenizer.eos);
    }
  }
}

/**
 * Mistral-7B-Instruct's format:
 * `[INST] {user} [/INST]{reply}</s>[INST] ...`. A system message is put before the first
 * user message, separated by a blank line. `[INST]` and `[/INST]` become ids in
 * vocabularies that have them as control tokens (v0.3) and stay text otherwise.
 */
function renderMistral(b: PartsBuilder, messages: ChatMessage[], tokenizer: Tokenizer) {
  const { system, turns } = splitSystem(messages);
  let pendingSystem = system;
  for (const m of turns) {
    if (m.role === "user") {
      b.marker("[INST]").literal(" ");
      if (pendingSystem !== undefined) {
        b.literal(pendingSystem).literal("\n\n");
        pendingSystem = undefined;
      }
      b.literal(m.content).literal(" ").marker("[/INST]");
    } else {
      b.literal(m.content).token(tokenizer.eos);
    }
  }
}
