/**
 * A fetch handler for edge hosts (Deno Deploy, or any host that calls
 * `fetch(request, env)`): on the first request it loads the model named by
 * `FLINT_MODEL_URL`, streaming the weights into WebAssembly memory with HTTP Range
 * requests, then serves the OpenAI-compatible API. Requests that arrive during the load
 * wait for it.
 *
 * Settings, read from the host's environment:
 *
 * | variable            | meaning                                                        |
 * | ------------------- | -------------------------------------------------------------- |
 * | `FLINT_MODEL_URL`   | required: an `https:` URL or `hf:owner/repo/file.gguf`         |
 * | `FLINT_CTX_SIZE`    | context size per session (default: the model's, at most 4096) |
 * | `FLINT_BATCH_SIZE`  | prompt tokens evaluated at once (default 64, see below)        |
 * | `FLINT_THREADS`     | kernel threads (default 1)                                     |
 * | `FLINT_API_KEY`     | when set, requests need `Authorization: Bearer <key>`          |
 * | `FLINT_MODEL_ALIAS` | the model id (default: the file name without .gguf)            |
 * | `FLINT_HUB_URL`     | base URL for `hf:` refs (default https://huggingface.co)       |
 *
 * The scratch memory of the forward pass grows linearly with the batch size. For a
 * 32000-token vocabulary the logits alone take 125 KiB per token of batch. The default
 * here is therefore 64 rather than the library's 512, which leaves room on hosts that
 * cap memory at 128 or 512 MB. Threads default to 1: Deno Deploy Classic lists no
 * `Worker` in its runtime API, and a worker that fails to start fails the load.
 *
 * @module
 */
import { createHandler, type Handler, loadModel, type Logger, type Model } from "../mod.ts";

/** Name of the environment variable with the model's URL. */
export const MODEL_URL_ENV = "FLINT_MODEL_URL";
/** Default `FLINT_BATCH_SIZE`. */
export const EDGE_BATCH_SIZE = 64;

/** Reads one setting, or returns undefined when it is unset. */
export type EnvReader = (name: string) => string | undefined;

/** Options of {@link createEdgeApp}. */
export interface EdgeAppOptions {
  /** Reads the `FLINT_*` settings; default `Deno.env.get` where it exists. */
  env?: EnvReader;
  /** Receives load progress and one line per request; default silent. */
  logger?: Logger;
  /** Kernel threads; default `FLINT_THREADS`, else 1. */
  threads?: number;
}

/** The handler plus the loaded model, once loading has finished. */
export interface EdgeApp {
  /** Serves one request, loading the model first if no request has yet. */
  fetch(request: Request): Promise<Response>;
  /** Loads the model now instead of on the first request; resolves to it. */
  ready(): Promise<Model>;
  /** Stops the kernel threads of a loaded model. */
  close(): Promise<void>;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function denoEnv(name: string): string | undefined {
  try {
    return typeof Deno === "undefined" ? undefined : Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function positiveInt(env: EnvReader, name: string): number | undefined {
  const text = env(name);
  if (text === undefined || text === "") return undefined;
  if (!/^[1-9][0-9]*$/.test(text)) {
    throw new RangeError(`invalid ${name} "${text}": expected a positive integer`);
  }
  return Number(text);
}

function errorResponse(status: number, message: string): Response {
  return Response.json({ error: { message, type: "server_error", param: null, code: null } }, {
    status,
  });
}

/**
 * Creates the edge app. Nothing is loaded until the first request or `ready()`. When a
 * load fails, that request gets a 503 response with the error, and the next request
 * tries again.
 *
 * @example Deno Deploy (see deploy/main.ts)
 * ```ts ignore
 * import { createEdgeApp } from "./app.ts";
 *
 * const app = createEdgeApp({ logger: console });
 * Deno.serve((request) => app.fetch(request));
 * ```
 */
export function createEdgeApp(options: EdgeAppOptions = {}): EdgeApp {
  const env = options.env ?? denoEnv;
  const logger = options.logger ?? silent;
  let loading: Promise<{ model: Model; handler: Handler }> | undefined;

  async function load(): Promise<{ model: Model; handler: Handler }> {
    const source = env(MODEL_URL_ENV);
    if (source === undefined || source === "") {
      throw new Error(`${MODEL_URL_ENV} is not set: set it to the URL of a GGUF model`);
    }
    const nCtx = positiveInt(env, "FLINT_CTX_SIZE");
    const nBatch = positiveInt(env, "FLINT_BATCH_SIZE") ?? EDGE_BATCH_SIZE;
    const started = performance.now();
    logger.info(`loading model ${source.replace(/\?.*$/, "")}`);
    let lastPercent = -1;
    const model = await loadModel(source, {
      nCtx,
      nBatch,
      threads: options.threads ?? positiveInt(env, "FLINT_THREADS") ?? 1,
      hubUrl: env("FLINT_HUB_URL") || undefined,
      logger,
      onProgress: (loaded, total) => {
        const percent = Math.floor(loaded / total * 10) * 10;
        if (percent !== lastPercent) logger.debug(`loaded ${percent}% of the weights`);
        lastPercent = percent;
      },
    });
    logger.info(
      `model "${model.name}" loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const handler = createHandler({
      model,
      modelId: env("FLINT_MODEL_ALIAS") || undefined,
      apiKey: env("FLINT_API_KEY") || undefined,
      logger,
    });
    return { model, handler };
  }

  function loaded(): Promise<{ model: Model; handler: Handler }> {
    loading ??= load().catch((error) => {
      loading = undefined;
      throw error;
    });
    return loading;
  }

  return {
    async fetch(request) {
      let handler: Handler;
      try {
        ({ handler } = await loaded());
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        logger.error(`model load failed: ${message}`);
        return errorResponse(503, `the model could not be loaded: ${message}`);
      }
      return await handler(request);
    },
    async ready() {
      return (await loaded()).model;
    },
    async close() {
      const pending = loading;
      loading = undefined;
      if (pending) await (await pending.catch(() => undefined))?.model.close();
    },
  };
}

/**
 * The module-style entry many hosts take: `export default { fetch }`. The host may pass
 * its environment bindings as the second argument of `fetch`; otherwise `Deno.env` is
 * read. The model loads on the first request.
 *
 * @example A host that imports the default export
 * ```ts ignore
 * import app from "./app.ts";
 *
 * const response = await app.fetch(new Request("http://localhost/health"));
 * ```
 */
const defaultApp: {
  fetch(request: Request, env?: Record<string, unknown>): Promise<Response>;
} = (() => {
  let app: EdgeApp | undefined;
  return {
    fetch(request: Request, bindings?: Record<string, unknown>) {
      app ??= createEdgeApp({
        env: bindings === undefined ? undefined : (name) => {
          const value = bindings[name];
          return typeof value === "string" ? value : undefined;
        },
      });
      return app.fetch(request);
    },
  };
})();
export default defaultApp;
