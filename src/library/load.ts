/**
 * `loadModel` for library users: resolves a model source (local path, URL, `hf:` ref,
 * bytes or a parsed file) and hands the GGUF to the model loader. Remote files are read
 * with HTTP Range requests straight into the kernels' memory, unless the `cache` option
 * requests a download into the cache folder first.
 */
import { closeGguf, type GgufFile, readGguf } from "../gguf/mod.ts";
import {
  DEFAULT_HUB_URL,
  type DownloadProgress,
  HUB_URL_ENV,
  hubFileUrl,
  parseModelSource,
  resolveModel,
} from "../hub/mod.ts";
import { loadModel as loadGgufModel, type Model, type ModelOptions } from "../model/mod.ts";

/**
 * A model source: a local path, an `http(s)://` URL, `hf:owner/repo/file.gguf`
 * (optionally `hf:owner/repo@revision/file.gguf`), a `URL`, the bytes of a GGUF file,
 * or a file already opened with `readGguf`.
 *
 * @example Every form
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * await loadModel("models/stories260K.gguf");
 * await loadModel("https://example.com/stories260K.gguf");
 * await loadModel("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf");
 * await loadModel(new URL("./stories260K.gguf", import.meta.url));
 * await loadModel(await Deno.readFile("models/stories260K.gguf"));
 * ```
 */
export type ModelInput = string | URL | Uint8Array | GgufFile;

/**
 * Options of {@link loadModel}: the model loader's (context size, threads, logger,
 * progress callback, KV cache type) plus how remote sources are fetched.
 *
 * @example A 2048-token context on two threads, with progress
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const model = await loadModel("hf:owner/repo/model.Q4_K_M.gguf", {
 *   nCtx: 2048,
 *   threads: 2,
 *   logger: console,
 *   onProgress: (loaded, total) => console.log(`${loaded} / ${total} bytes`),
 * });
 * ```
 */
export interface LoadModelOptions extends ModelOptions {
  /**
   * Download a remote model into a cache folder once and load it from disk. `true`
   * uses `$FLINT_CACHE_DIR`, `$XDG_CACHE_HOME/flint` or `~/.cache/flint`, a string
   * names the folder. Default false: remote weights stream into memory on every load,
   * which is what a host without a file system needs. Cached split models are not
   * supported: only the named part is downloaded.
   */
  cache?: boolean | string;
  /** Base URL of the hub for `hf:` sources; default `$FLINT_HUB_URL` or https://huggingface.co. */
  hubUrl?: string;
  /** The fetch used for remote sources, for example one that adds an `authorization` header. */
  fetch?: typeof fetch;
  /** Called during a `cache` download, at most four times a second and once at the end. */
  onDownloadProgress?: (progress: DownloadProgress) => void;
}

function env(name: string): string | undefined {
  try {
    return typeof Deno === "undefined" ? undefined : Deno.env.get(name);
  } catch {
    // Without --allow-env the defaults apply.
    return undefined;
  }
}

/** Opens the GGUF a source names; the caller closes it. */
async function openSource(source: ModelInput, options: LoadModelOptions): Promise<GgufFile> {
  const readOptions = { fetch: options.fetch };
  if (source instanceof Uint8Array || source instanceof URL) {
    return await readGguf(source, readOptions);
  }
  if (typeof source !== "string") return source;

  const parsed = parseModelSource(source);
  const hubUrl = options.hubUrl ?? env(HUB_URL_ENV) ?? DEFAULT_HUB_URL;
  if (options.cache !== undefined && options.cache !== false && parsed.kind !== "file") {
    const path = await resolveModel(source, {
      cacheDir: typeof options.cache === "string" ? options.cache : undefined,
      hubUrl,
      fetch: options.fetch,
      logger: options.logger,
      onProgress: options.onDownloadProgress,
    });
    return await readGguf(path);
  }
  switch (parsed.kind) {
    case "file":
      return await readGguf(parsed.path);
    case "url":
      return await readGguf(parsed.url, readOptions);
    case "hub":
      return await readGguf(hubFileUrl(parsed, hubUrl), readOptions);
  }
}

/**
 * Loads a llama-family GGUF model: reads its header and vocabulary, checks every tensor,
 * copies the weights into WebAssembly memory and starts the kernel threads. Remote
 * weights are read with HTTP Range requests directly into that memory, so no second
 * copy of the file exists at any time.
 *
 * Errors: `ModelSourceError` for a malformed source string, `GgufError` for a file that
 * is not valid GGUF or cannot be read, and `DownloadError` for a failed `cache`
 * download. A GGUF that is not a usable llama model raises `ModelError` (naming the key
 * or tensor), and a bad vocabulary raises `TokenizerError`.
 *
 * Call `model.close()` when done: the worker threads keep the process alive.
 *
 * @example Load a model and stream a completion
 * ```ts ignore
 * import { loadModel } from "@flint/flint";
 *
 * const model = await loadModel("models/stories260K.gguf", { nCtx: 512 });
 * const session = model.createSession();
 * for await (const chunk of session.generate("Once upon a time", { maxTokens: 32 })) {
 *   await Deno.stdout.write(new TextEncoder().encode(chunk.text));
 * }
 * session.close();
 * await model.close();
 * ```
 */
export async function loadModel(
  source: ModelInput,
  options: LoadModelOptions = {},
): Promise<Model> {
  const file = await openSource(source, options);
  try {
    return await loadGgufModel(file, options);
  } catch (error) {
    // A file the caller opened stays the caller's to close.
    if (file !== source) await closeGguf(file);
    throw error;
  }
}
