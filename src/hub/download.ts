/**
 * Downloads a model file once into a cache directory. The bytes go to `<file>.part` first.
 * An interrupted download resumes with an HTTP Range request, and the file is renamed
 * into place only when its size equals the size the server reported.
 */
import {
  DEFAULT_HUB_URL,
  defaultCacheDir,
  HUB_URL_ENV,
  hubFileUrl,
  type ModelSource,
  parseModelSource,
} from "./spec.ts";

/**
 * A download snapshot for progress displays.
 *
 * @example Show download progress
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * await loadModel("hf:owner/repo/model.gguf", {
 *   cache: true,
 *   onDownloadProgress: (p) => console.log(`${p.received} of ${p.total ?? "?"} bytes`),
 * });
 * ```
 */
export interface DownloadProgress {
  /** The URL being downloaded. */
  url: string;
  /** Bytes on disk, including those from an earlier, interrupted run. */
  received: number;
  /** Size reported by the server, when it reported one. */
  total: number | undefined;
  /** Average rate of this run in bytes per second. */
  bytesPerSecond: number;
  /** Seconds left at the current rate, when the total is known. */
  etaSeconds: number | undefined;
  /** True on the last report, once the whole file is on disk. */
  done: boolean;
}

/** Log sink for download retries; `console` fits. */
export interface DownloadLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface DownloadOptions {
  /** Called at most every `progressIntervalMs` and once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
  progressIntervalMs?: number;
  /** Further attempts after a dropped connection or a short body. Default 5. */
  retries?: number;
  /** Milliseconds to wait before each retry. Default 1000. */
  retryDelayMs?: number;
  logger?: DownloadLogger;
  signal?: AbortSignal;
  /** Injected for tests; default the global `fetch`. */
  fetch?: typeof fetch;
}

export interface ResolveOptions extends DownloadOptions {
  /** Default `$FLINT_CACHE_DIR`, `$XDG_CACHE_HOME/flint` or `~/.cache/flint`. */
  cacheDir?: string;
  /** Base URL for `hf:` sources; default `$FLINT_HUB_URL` or https://huggingface.co. */
  hubUrl?: string;
}

/**
 * A download that failed for good: bad status, size mismatch, or out of retries.
 *
 * @example A cached download that failed
 * ```ts ignore
 * import { DownloadError, loadModel } from "@flint/flint";
 *
 * try {
 *   await loadModel("hf:owner/repo/model.gguf", { cache: true });
 * } catch (error) {
 *   if (error instanceof DownloadError) console.error(error.url, error.message);
 * }
 * ```
 */
export class DownloadError extends Error {
  /** Always "DownloadError". */
  override name = "DownloadError";
  /** Creates the error for `url`; the message says what failed. */
  constructor(readonly url: string, message: string, options?: ErrorOptions) {
    super(`download of ${url} failed: ${message}`, options);
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Without --allow-env the defaults apply.
    return undefined;
  }
}

/**
 * Returns a local path for a model source, downloading remote files into the cache on
 * first use. A cached file is used without any network request.
 */
export async function resolveModel(source: string, options: ResolveOptions = {}): Promise<string> {
  const parsed = parseModelSource(source);
  if (parsed.kind === "file") return parsed.path;
  const cacheDir = options.cacheDir ?? defaultCacheDir(env);
  const hubUrl = options.hubUrl ?? env(HUB_URL_ENV) ?? DEFAULT_HUB_URL;
  const url = parsed.kind === "hub" ? hubFileUrl(parsed, hubUrl) : parsed.url;
  const path = `${cacheDir}/${await cachePath(parsed, url)}`;
  if (await isFile(path)) return path;
  return await downloadFile(url.href, path, options);
}

/** Returns the path of a source relative to the cache directory. */
async function cachePath(
  source: Exclude<ModelSource, { kind: "file" }>,
  url: URL,
): Promise<string> {
  if (source.kind === "hub") {
    return `hub/${source.owner}/${source.repo}/${source.revision}/${source.file}`;
  }
  // URLs are keyed by a digest so that no part of them becomes a path component.
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url.href)),
  );
  const hex = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  const name = decodeURIComponent(url.pathname.split("/").pop() ?? "").replace(
    /[^A-Za-z0-9._-]/g,
    "_",
  );
  return `url/${hex}/${name || "model.gguf"}`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** Thrown inside one attempt when the body ended early or the connection dropped. */
class Interrupted extends Error {}

/**
 * Downloads `url` to `path`, resuming from `path.part` when a previous run left one.
 * Returns `path`.
 */
export async function downloadFile(
  url: string,
  path: string,
  options: DownloadOptions = {},
): Promise<string> {
  const fetchFn = options.fetch ?? fetch;
  const retries = options.retries ?? 5;
  const partPath = `${path}.part`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true });

  for (let attempt = 0;; attempt++) {
    try {
      await downloadAttempt(url, partPath, fetchFn, options);
      await Deno.rename(partPath, path);
      return path;
    } catch (error) {
      if (!(error instanceof Interrupted) || attempt >= retries || options.signal?.aborted) {
        if (error instanceof Interrupted) {
          throw new DownloadError(url, `${error.message}; gave up after ${attempt + 1} attempts`);
        }
        throw error;
      }
      const have = await fileSize(partPath);
      const next = `attempt ${attempt + 2} of ${retries + 1}`;
      options.logger?.warn(
        have > 0
          ? `download of ${url} interrupted (${error.message}); resuming at byte ${have}, ${next}`
          : `download of ${url} failed (${error.message}); retrying, ${next}`,
      );
      await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 1000));
    }
  }
}

async function downloadAttempt(
  url: string,
  partPath: string,
  fetchFn: typeof fetch,
  options: DownloadOptions,
): Promise<void> {
  let offset = await fileSize(partPath);
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  let response: Response;
  try {
    response = await fetchFn(url, { headers, signal: options.signal, redirect: "follow" });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const message = `request failed: ${(error as Error).message}`;
    // A denied permission, a bad URL or an unknown host does not heal by retrying.
    if (
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
      /dns error|failed to lookup|invalid url|not supported|unsupported/i.test(message)
    ) {
      throw new DownloadError(url, message);
    }
    throw new Interrupted(message);
  }

  let total: number | undefined;
  if (response.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("content-range") ?? "");
    if (!range || Number(range[1]) !== offset) {
      await response.body?.cancel();
      // The server sent some other range; start over rather than splice wrong bytes.
      await Deno.remove(partPath).catch(() => {});
      throw new Interrupted(
        `server sent a response to Range bytes=${offset}- with Content-Range '${
          response.headers.get("content-range")
        }'`,
      );
    }
    total = Number(range[3]);
  } else if (response.status === 200) {
    // No Range support (or no partial file): the body is the whole file.
    offset = 0;
    const length = response.headers.get("content-length");
    total = length === null ? undefined : Number(length);
  } else if (response.status === 416 && offset > 0) {
    await response.body?.cancel();
    await Deno.remove(partPath).catch(() => {});
    throw new Interrupted(`server rejected Range bytes=${offset}- (416); starting over`);
  } else {
    await response.body?.cancel();
    throw new DownloadError(url, `HTTP ${response.status} ${response.statusText}`.trim());
  }
  if (!response.body) throw new DownloadError(url, "response has no body");

  const file = await Deno.open(partPath, {
    write: true,
    create: true,
    truncate: offset === 0,
    append: offset > 0,
  });
  const startedAt = performance.now();
  let received = offset;
  let lastReport = 0;
  const interval = options.progressIntervalMs ?? 250;
  const report = (done: boolean) => {
    const now = performance.now();
    if (!done && now - lastReport < interval) return;
    lastReport = now;
    const seconds = (now - startedAt) / 1000;
    const rate = seconds > 0 ? (received - offset) / seconds : 0;
    options.onProgress?.({
      url,
      received,
      total,
      bytesPerSecond: rate,
      etaSeconds: total !== undefined && rate > 0 ? (total - received) / rate : undefined,
      done,
    });
  };
  try {
    const reader = response.body.getReader();
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (options.signal?.aborted) throw error;
        throw new Interrupted(
          `connection dropped at byte ${received}: ${(error as Error).message}`,
        );
      }
      if (chunk.done) break;
      if (total !== undefined && received + chunk.value.byteLength > total) {
        await reader.cancel();
        await Deno.remove(partPath).catch(() => {});
        throw new DownloadError(url, `server sent more than the ${total} bytes it reported`);
      }
      let written = 0;
      while (written < chunk.value.byteLength) {
        written += await file.write(chunk.value.subarray(written));
      }
      received += chunk.value.byteLength;
      report(false);
    }
  } finally {
    file.close();
  }
  if (total !== undefined && received !== total) {
    throw new Interrupted(`body ended at ${received} of ${total} bytes`);
  }
  report(true);
}
