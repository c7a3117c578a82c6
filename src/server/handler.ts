/**
 * The HTTP entry point: a `(Request) => Promise<Response>` function that routes, checks
 * the API key, reads the body within its limit, runs the route and maps every error to
 * an OpenAI error object in one place.
 */
import { CHAT_PAGE_HTML } from "./chat_page.ts";
import type { RequestResult, RouteContext } from "./context.ts";
import { ApiError, errorResponse } from "./errors.ts";
import type { StartOptions } from "./generation.ts";
import { detokenize, nativeCompletion, tokenize } from "./llama.ts";
import { chatCompletions, completions } from "./openai.ts";
import { SlotScheduler } from "./scheduler.ts";
import {
  type CorsOption,
  type HandlerOptions,
  type Logger,
  type ServerModel,
  silentLogger,
} from "./types.ts";
import { type Body, parseJsonObject } from "./validate.ts";

/** Default request body limit: 4 MiB, far above any prompt that fits a context window. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Default number of requests that may wait for a busy slot. */
export const DEFAULT_QUEUE_SIZE = 64;

type Route = (ctx: RouteContext, start: StartOptions) => Response | Promise<Response>;

interface RouteEntry {
  method: "GET" | "POST";
  /** Public routes skip the API key check. */
  public?: boolean;
  /** GET routes have no body to read. */
  run: Route;
}

/**
 * A Web-standard request handler, usable with `Deno.serve` or any fetch-style host.
 *
 * @example Route /v1 to flint inside a larger app
 * ```ts ignore
 * import { createHandler, type Handler, loadModel } from "@flint/flint";
 *
 * const flint: Handler = createHandler({ model: await loadModel("models/stories260K.gguf") });
 * Deno.serve((request) =>
 *   new URL(request.url).pathname.startsWith("/v1") ? flint(request) : new Response("hello")
 * );
 * ```
 */
export type Handler = (request: Request) => Promise<Response>;

/**
 * The model id `createHandler` uses when `modelId` is not given: the file name of the
 * model's GGUF without the `.gguf` extension, else the model's name.
 *
 * @example
 * ```ts ignore
 * import { defaultModelId, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * console.log(defaultModelId(model)); // "stories260K"
 * ```
 */
export function defaultModelId(model: ServerModel): string {
  const source = model.file?.source ?? "";
  // Sources in memory are named like "<bytes>"; they have no file name.
  if (source === "" || source.startsWith("<")) return model.name;
  const name = source.replace(/[?#].*$/s, "").split(/[\\/]/).pop() ?? "";
  const stem = name.replace(/\.gguf$/i, "");
  return stem === "" ? model.name : stem;
}

/**
 * Creates the OpenAI-compatible handler for one model. Sessions are created lazily, one
 * per slot, so an idle server keeps no KV cache.
 *
 * @example Serve a model with an API key and two slots
 * ```ts ignore
 * import { createHandler, loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf");
 * const handler = createHandler({ model, slots: 2, apiKey: "secret", logger: console });
 * Deno.serve({ port: 8080 }, handler);
 * ```
 */
export function createHandler(options: HandlerOptions): Handler {
  const model = options.model;
  const modelId = options.modelId ?? defaultModelId(model);
  const logger: Logger = options.logger ?? silentLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const start: StartOptions = { retryAfterSeconds: options.retryAfterSeconds ?? 1 };
  const scheduler = new SlotScheduler({
    slots: options.slots ?? 1,
    queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
    createSession: (slotId) => {
      logger.debug(`creating session for slot ${slotId}`);
      return model.createSession(options.nCtx === undefined ? {} : { nCtx: options.nCtx });
    },
  });
  const nVocab = vocabSize(model.tokenizer);
  const created = Math.floor(Date.now() / 1000);
  const apiKeyBytes = options.apiKey === undefined
    ? undefined
    : new TextEncoder().encode(options.apiKey);

  const modelObject = {
    id: modelId,
    object: "model",
    created,
    owned_by: "flint",
  };

  const routes: Record<string, RouteEntry> = {
    "/": {
      method: "GET",
      public: true,
      run: () =>
        new Response(CHAT_PAGE_HTML, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy":
              "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
          },
        }),
    },
    // Browsers ask for it on every page load; 204 keeps the log free of 404s.
    "/favicon.ico": { method: "GET", public: true, run: () => new Response(null, { status: 204 }) },
    "/health": {
      method: "GET",
      public: true,
      run: () => {
        const stats = scheduler.stats();
        return Response.json({
          status: "ok",
          slots_idle: stats.slots - stats.busy,
          slots_processing: stats.busy,
          requests_queued: stats.queued,
        });
      },
    },
    "/v1/models": {
      method: "GET",
      run: () => Response.json({ object: "list", data: [modelObject] }),
    },
    "/v1/chat/completions": { method: "POST", run: chatCompletions },
    "/v1/completions": { method: "POST", run: completions },
    "/completion": { method: "POST", run: nativeCompletion },
    "/tokenize": { method: "POST", run: tokenize },
    "/detokenize": { method: "POST", run: detokenize },
  };
  routes["/models"] = routes["/v1/models"];
  routes["/chat/completions"] = routes["/v1/chat/completions"];
  routes["/completions"] = routes["/v1/completions"];

  function findRoute(pathname: string): RouteEntry | undefined {
    if (Object.hasOwn(routes, pathname)) return routes[pathname];
    const prefix = "/v1/models/";
    if (pathname.startsWith(prefix)) {
      const id = decodeURIComponent(pathname.slice(prefix.length));
      return {
        method: "GET",
        run: () => {
          if (id !== modelId) {
            throw new ApiError(404, `model '${id}' not found; this server serves '${modelId}'`, {
              param: "model",
              code: "model_not_found",
            });
          }
          return Response.json(modelObject);
        },
      };
    }
    return undefined;
  }

  function checkApiKey(request: Request): void {
    if (apiKeyBytes === undefined) return;
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !constantTimeEqual(new TextEncoder().encode(match[1].trim()), apiKeyBytes)) {
      throw new ApiError(
        401,
        match
          ? "invalid API key in the Authorization header"
          : "missing API key: send 'Authorization: Bearer <key>'",
        { code: "invalid_api_key", headers: { "www-authenticate": "Bearer" } },
      );
    }
  }

  return async function handle(request: Request): Promise<Response> {
    const startedAt = performance.now();
    const url = new URL(request.url);
    const label = `${request.method} ${url.pathname}`;
    let logged = false;
    let deferred = false;
    const finish = (result: RequestResult) => {
      if (logged) return;
      logged = true;
      const line = formatLogLine(label, result, performance.now() - startedAt);
      if (url.pathname === "/favicon.ico" && result.status < 400) logger.debug(line);
      else if (result.status >= 500 || (result.status < 400 && result.error)) logger.error(line);
      else if (result.status >= 400) logger.warn(line);
      else logger.info(line);
    };

    let response: Response;
    try {
      response = await route(request, url, {
        defer: () => deferred = true,
        finish,
      });
    } catch (error) {
      const failure = toErrorResponse(error, label, logger, request.signal);
      response = failure.response;
      deferred = false;
      finish({ status: response.status, error: failure.message });
    }
    applyCors(response.headers, request.headers.get("origin"), options.cors ?? true);
    if (!deferred) finish({ status: response.status });
    return response;
  };

  async function route(
    request: Request,
    url: URL,
    hooks: Pick<RouteContext, "defer" | "finish">,
  ): Promise<Response> {
    const entry = findRoute(url.pathname);
    if (!entry) {
      throw new ApiError(404, `route ${url.pathname} not found`, { code: "not_found" });
    }
    if (request.method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: { allow: `${entry.method}, OPTIONS`, "access-control-max-age": "600" },
      });
    }
    const allowed = entry.method === "GET" ? ["GET", "HEAD"] : [entry.method];
    if (!allowed.includes(request.method)) {
      throw new ApiError(
        405,
        `method ${request.method} not allowed on ${url.pathname}; use ${entry.method}`,
        { code: "method_not_allowed", headers: { allow: `${entry.method}, OPTIONS` } },
      );
    }
    if (!entry.public) checkApiKey(request);
    const body: Body = entry.method === "POST"
      ? parseJsonObject(await readBody(request, maxBodyBytes))
      : {};
    const ctx: RouteContext = {
      request,
      body,
      modelId,
      tokenizer: model.tokenizer,
      nVocab,
      scheduler,
      logger,
      ...hooks,
    };
    return await entry.run(ctx, start);
  }
}

/** Reads a body, rejecting with 413 as soon as it passes `maxBytes`, whatever Content-Length claims. */
async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new ApiError(413, `request body larger than the limit of ${maxBytes} bytes`, {
      code: "request_too_large",
    });
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge();
  if (request.body === null) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/**
 * Turns a thrown error into a response and the message for the request's log line. An
 * unexpected error is logged with its stack, and the client gets a generic 500.
 */
function toErrorResponse(
  error: unknown,
  label: string,
  logger: Logger,
  signal: AbortSignal,
): { response: Response; message: string } {
  if (error instanceof ApiError) {
    return { response: errorResponse(error), message: error.message };
  }
  if (signal.aborted) {
    // The client disconnected, so this response is never read.
    const cancelled = new ApiError(499, "client closed the request", { code: "cancelled" });
    return { response: errorResponse(cancelled), message: cancelled.message };
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  logger.error(`${label} failed: ${detail}`);
  const generic = new ApiError(500, "internal server error; the server log has the cause", {
    code: "internal_error",
  });
  return { response: errorResponse(generic), message: String((error as Error)?.message ?? error) };
}

function applyCors(headers: Headers, origin: string | null, cors: CorsOption): void {
  if (cors === false) return;
  let allowOrigin: string | undefined;
  if (cors === true || cors === "*") {
    allowOrigin = "*";
  } else {
    const allowed = typeof cors === "string" ? [cors] : cors;
    if (origin !== null && allowed.includes(origin)) allowOrigin = origin;
    headers.append("vary", "Origin");
  }
  if (allowOrigin === undefined) return;
  headers.set("access-control-allow-origin", allowOrigin);
  headers.set("access-control-allow-methods", "GET, POST, OPTIONS");
  headers.set("access-control-allow-headers", "Authorization, Content-Type");
  headers.set("access-control-expose-headers", "Retry-After");
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}

function vocabSize(tokenizer: unknown): number | undefined {
  const t = tokenizer as { nVocab?: unknown; vocabSize?: unknown };
  const n = t.nVocab ?? t.vocabSize;
  return typeof n === "number" && n > 0 ? n : undefined;
}

/** `POST /v1/completions 200 in=12 out=48 31.2 tok/s 1650 ms`. */
function formatLogLine(label: string, result: RequestResult, totalMs: number): string {
  const parts = [label, String(result.status)];
  if (result.usage) {
    parts.push(`in=${result.usage.promptTokens}`, `out=${result.usage.completionTokens}`);
    if (result.generationMs !== undefined && result.generationMs > 0) {
      const rate = (1000 * result.usage.completionTokens) / result.generationMs;
      parts.push(`${rate.toFixed(1)} tok/s`);
    }
  }
  parts.push(`${Math.round(totalMs)} ms`);
  if (result.cancelled) parts.push("(client disconnected)");
  if (result.error) parts.push(`error: ${result.error}`);
  return parts.join(" ");
}
