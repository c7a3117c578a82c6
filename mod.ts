/**
 * flint runs GGUF language models from JavaScript: a GGUF reader, WebAssembly SIMD
 * kernels, tokenizers, a llama-family forward pass and an OpenAI-compatible handler.
 *
 * @module
 */

export * from "./src/gguf/mod.ts";
export {
  createTokenizer,
  type CreateTokenizerOptions,
  type DecodeOptions,
  type EncodeOptions,
  type IncrementalDecoder,
  type PromptPart,
  type Tokenizer,
  TokenizerError,
  type TokenizerLogger,
  type TokenizerSource,
} from "./src/tokenizer/mod.ts";
export {
  applyChatTemplate,
  type ApplyChatTemplateOptions,
  BUILTIN_TEMPLATES,
  type BuiltinTemplateName,
  type ChatLogger,
  type ChatPrompt,
  type ChatTemplate,
  type ChatTemplateChoice,
  ChatTemplateError,
  chooseChatTemplate,
  VICUNA_SYSTEM_PROMPT,
} from "./src/chat/mod.ts";
export { ApiError, createHandler, QueueFullError } from "./src/server/mod.ts";
export type { CorsOption, Handler, HandlerOptions, ServerModel } from "./src/server/mod.ts";
export {
  ContextError,
  DEFAULT_MAX_CTX,
  type LlamaHparams,
  loadModel,
  type LoadModelOptions,
  Model,
  ModelError,
} from "./src/model/mod.ts";
export { GenerateOptionError, LlamaSession, type SessionStats } from "./src/engine/mod.ts";
export type {
  ChatMessage,
  FinishReason,
  GenerateOptions,
  GenerationChunk,
  Session,
  TokenLogprob,
  Usage,
} from "./src/engine/types.ts";
