/** State shared by the route implementations for one request. */
import type { Usage } from "../engine/types.ts";
import type { SlotScheduler } from "./scheduler.ts";
import type { Logger, ServerTokenizer } from "./types.ts";
import type { Body } from "./validate.ts";

/** Counts reported in the request's log line. */
export interface RequestResult {
  status: number;
  usage?: Usage;
  /** Milliseconds spent generating, for tokens/s. */
  generationMs?: number;
  /** Set when the client disconnected before the response was complete. */
  cancelled?: boolean;
  error?: string;
}

export interface RouteContext {
  request: Request;
  body: Body;
  modelId: string;
  tokenizer: ServerTokenizer;
  /** Vocabulary size when the tokenizer exposes it; bounds token ids in requests. */
  nVocab?: number;
  scheduler: SlotScheduler;
  logger: Logger;
  /**
   * Marks the log line as written later: a streamed response calls {@link finish} when
   * its stream ends instead of when the handler returns.
   */
  defer(): void;
  /** Writes the request's log line; only the first call counts. */
  finish(result: RequestResult): void;
}
