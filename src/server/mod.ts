/**
 * OpenAI-compatible HTTP handler: `createHandler({ model })` returns a
 * `(Request) => Promise<Response>` for `Deno.serve` or any fetch-style host.
 *
 * @module
 */
export {
  createHandler,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_QUEUE_SIZE,
  defaultModelId,
} from "./handler.ts";
export type { Handler } from "./handler.ts";
export { ApiError } from "./errors.ts";
export type { ApiErrorType } from "./errors.ts";
export { QueueFullError, SlotScheduler } from "./scheduler.ts";
export type { SchedulerStats, SlotLease } from "./scheduler.ts";
export { silentLogger } from "./types.ts";
export type { CorsOption, HandlerOptions, Logger, ServerModel, ServerTokenizer } from "./types.ts";
export { CHAT_PAGE_HTML } from "./chat_page.ts";
