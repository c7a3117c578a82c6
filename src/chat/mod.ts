/**
 * Chat templates: Vicuna (WizardLM-2), ChatML, Llama-2, Llama-3, Mistral-Instruct, and
 * the GGUF's own Jinja `tokenizer.chat_template`, producing prompts as token ids.
 *
 * @module
 */
export {
  applyChatTemplate,
  type ApplyChatTemplateOptions,
  type ChatLogger,
  type ChatPrompt,
  type ChatTemplate,
  type ChatTemplateChoice,
  chooseChatTemplate,
} from "./chat.ts";
export { BUILTIN_TEMPLATES, type BuiltinTemplateName, VICUNA_SYSTEM_PROMPT } from "./builtin.ts";
export { ChatTemplateError } from "./errors.ts";
