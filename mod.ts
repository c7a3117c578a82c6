/**
 * flint runs GGUF language models from JavaScript: it reads a GGUF file, loads the
 * weights into WebAssembly memory, runs a llama-family model (Llama, Mistral and
 * their fine-tunes) with SIMD kernels on worker threads, and streams tokens, either to
 * your code or through an OpenAI-compatible `Request → Response` handler.
 *
 * - {@link loadModel} loads a model from a path, URL, `hf:` ref or bytes.
 * - {@link Model.createSession} gives a session whose `generate` and `chat` return
 *   streams of {@link GenerationChunk}s.
 * - {@link Model.tokenizer} encodes and decodes text ({@link Tokenizer}).
 * - {@link createHandler} serves a model over HTTP for `Deno.serve` or any fetch host.
 *
 * The GGUF reader and writer are in the `./gguf` export, the command line in `./cli`.
 *
 * @example Stream a completion
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const model = await loadModel("hf:owner/repo/model.Q4_K_M.gguf", { nCtx: 2048 });
 * const session = model.createSession();
 * for await (const chunk of session.generate("Once upon a time", { maxTokens: 64 })) {
 *   await Deno.stdout.write(new TextEncoder().encode(chunk.text));
 * }
 * await model.close();
 * ```
 *
 * @example Serve the OpenAI API
 * ```ts ignore
 * import { createHandler, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * Deno.serve({ port: 8080 }, createHandler({ model }));
 * ```
 *
 * @module
 */

// Loading a model.
export { loadModel, type LoadModelOptions, type ModelInput } from "./src/library/load.ts";
export {
  type CacheType,
  ContextError,
  DEFAULT_MAX_CTX,
  type LlamaHparams,
  type Logger,
  type MatmulOrder,
  Model,
  ModelError,
  type ModelErrorContext,
  type ModelOptions,
} from "./src/model/mod.ts";
export { DownloadError, type DownloadProgress, ModelSourceError } from "./src/hub/mod.ts";

// Generating text.
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

// The tokenizer and chat templates.
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
  type VocabType,
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

// Serving over HTTP.
export {
  ApiError,
  type ApiErrorType,
  createHandler,
  defaultModelId,
  QueueFullError,
} from "./src/server/mod.ts";
export type {
  CorsOption,
  Handler,
  HandlerOptions,
  Logger as ServerLogger,
  ServerModel,
  ServerTokenizer,
} from "./src/server/mod.ts";

// Reading GGUF files.
export {
  closeGguf,
  formatInspect,
  GgmlType,
  ggmlTypeName,
  GgufError,
  type GgufErrorContext,
  type GgufFile,
  type GgufHparams,
  type GgufInput,
  type GgufPart,
  type GgufSource,
  type GgufTensorInfo,
  type GgufValue,
  GgufValueType,
  type InspectOptions,
  readGguf,
  type ReadGgufOptions,
  type UrlSourceOptions,
} from "./src/gguf/mod.ts";
