/**
 * Generation: sessions over a loaded model that stream tokens (see `types.ts`).
 *
 * @module
 */
export {
  GenerateOptionError,
  LlamaSession,
  MAX_LOGPROBS,
  type SessionOptions,
  type SessionStats,
} from "./session.ts";
export type * from "./types.ts";
