// A full npm: specifier (not the deno.json import map entry) so that importing flint
// from a raw URL, which ignores the package's import map, still resolves it.
// deno-lint-ignore no-import-prefix
import { Template } from "npm:@huggingface/jinja@^0.5.13";
import type { ChatMessage } from "../engine/types.ts";
import type { PromptPart, Tokenizer } from "../tokenizer/mod.ts";
import type { RenderedPrompt } from "./builtin.ts";
import { ChatTemplateError } from "./errors.ts";

/** Private-use characters that mark where message content lands in a trial render. */
const OPEN = "\uE000";
const CLOSE = "\uE001";

/** A parsed Jinja chat template, such as a GGUF's `tokenizer.chat_template`. */
export class JinjaChatTemplate {
  readonly source: string;
  readonly #template: Template;

  constructor(source: string) {
    this.source = source;
    try {
      this.#template = new Template(source);
    } catch (cause) {
      throw new ChatTemplateError(`invalid Jinja chat template: ${(cause as Error).message}`, {
        template: source.slice(0, 80),
        cause,
      });
    }
  }

  /**
   * Renders the template with the variables Hugging Face chat templates expect; the
   * library itself provides `raise_exception`.
   */
  renderText(messages: ChatMessage[], tokenizer: Tokenizer, addGenerationPrompt: boolean): string {
    const tokenText = (id: number) => id >= 0 ? tokenizer.tokenText(id) : "";
    try {
      return this.#template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
        bos_token: tokenText(tokenizer.bos),
        eos_token: tokenText(tokenizer.eos),
      });
    } catch (cause) {
      if (cause instanceof ChatTemplateError) throw cause;
      throw new ChatTemplateError(
        `rendering the chat template failed: ${(cause as Error).message}`,
        {
          template: this.source.slice(0, 80),
          cause,
        },
      );
    }
  }

  /**
   * Renders the prompt as parts: template text may contain special tokens, message content
   * never does. A trial render with each content replaced by a marked index finds where
   * the contents land; when the template transforms content (e.g. `| trim`) so the trial
   * cannot be mapped back, each content is searched for in order instead.
   */
  render(
    messages: ChatMessage[],
    tokenizer: Tokenizer,
    addGenerationPrompt: boolean,
    onFallback: (reason: string) => void,
  ): RenderedPrompt {
    const text = this.renderText(messages, tokenizer, addGenerationPrompt);
    const marked = messages.map((m, i) => ({ ...m, content: `${OPEN}${i}${CLOSE}` }));
    let parts = splitMarked(this.renderText(marked, tokenizer, addGenerationPrompt), messages);
    if (parts === undefined || joinParts(parts) !== text) {
      onFallback("message content is transformed by the template; locating it by search");
      parts = locateContents(text, messages);
    }
    return { parts, text };
  }
}

function joinParts(parts: PromptPart[]): string {
  return parts.map((p) => "text" in p ? p.text : "").join("");
}

/** Splits a trial render at the content markers; undefined if a marker is malformed. */
function splitMarked(rendered: string, messages: ChatMessage[]): PromptPart[] | undefined {
  const parts: PromptPart[] = [];
  let pos = 0;
  for (;;) {
    const open = rendered.indexOf(OPEN, pos);
    if (open < 0) break;
    const close = rendered.indexOf(CLOSE, open);
    if (close < 0) return undefined;
    const index = Number(rendered.slice(open + 1, close));
    if (!Number.isInteger(index) || messages[index] === undefined) return undefined;
    if (open > pos) parts.push({ text: rendered.slice(pos, open), parseSpecial: true });
    parts.push({ text: messages[index].content, parseSpecial: false });
    pos = close + 1;
  }
  if (pos < rendered.length) parts.push({ text: rendered.slice(pos), parseSpecial: true });
  return parts;
}

/** Marks each message's content (or its trimmed form) where it next occurs in `text`. */
function locateContents(text: string, messages: ChatMessage[]): PromptPart[] {
  const parts: PromptPart[] = [];
  let pos = 0;
  for (const m of messages) {
    for (const candidate of [m.content, m.content.trim()]) {
      if (candidate === "") continue;
      const at = text.indexOf(candidate, pos);
      if (at < 0) continue;
      if (at > pos) parts.push({ text: text.slice(pos, at), parseSpecial: true });
      parts.push({ text: candidate, parseSpecial: false });
      pos = at + candidate.length;
      break;
    }
  }
  if (pos < text.length) parts.push({ text: text.slice(pos), parseSpecial: true });
  return parts;
}
