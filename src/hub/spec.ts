/**
 * Model sources as the CLI accepts them: a local path, an `https:` (or `http:`) URL, or
 * `hf:owner/repo/path/file.gguf`, a file in a Hugging Face-style hub repository.
 */

/** Hub that `hf:` sources resolve against unless an option or the environment says otherwise. */
export const DEFAULT_HUB_URL = "https://huggingface.co";
/** Environment variable that overrides {@link DEFAULT_HUB_URL}. */
export const HUB_URL_ENV = "FLINT_HUB_URL";
/** Environment variable that overrides the cache directory. */
export const CACHE_DIR_ENV = "FLINT_CACHE_DIR";

/** A parsed model source. */
export type ModelSource =
  | { kind: "file"; path: string }
  | { kind: "url"; url: URL }
  | { kind: "hub"; owner: string; repo: string; file: string; revision: string };

/**
 * An invalid model source string.
 *
 * @example An unsupported URL scheme
 * ```ts ignore
 * import { loadModel, ModelSourceError } from "@flint/flint";
 *
 * try {
 *   await loadModel("ftp://example.com/model.gguf");
 * } catch (error) {
 *   if (error instanceof ModelSourceError) console.error(error.message);
 * }
 * ```
 */
export class ModelSourceError extends Error {
  /** Always "ModelSourceError". */
  override name = "ModelSourceError";
  /** Creates the error for the source string and the reason it is invalid. */
  constructor(readonly source: string, reason: string) {
    super(`invalid model source '${source}': ${reason}`);
  }
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses a model source. `hf:owner/repo/file.gguf` may name a revision as
 * `hf:owner/repo@revision/file.gguf`; the default revision is `main`.
 */
export function parseModelSource(source: string): ModelSource {
  if (source.startsWith("hf:")) {
    const parts = source.slice(3).split("/");
    if (parts.length < 3) {
      throw new ModelSourceError(source, "expected hf:owner/repo/file.gguf");
    }
    const [owner, repoAndRevision, ...fileParts] = parts;
    const [repo, revision = "main", ...extra] = repoAndRevision.split("@");
    for (const segment of [owner, repo, revision, ...fileParts]) {
      if (!SEGMENT.test(segment) || segment === ".." || extra.length > 0) {
        throw new ModelSourceError(
          source,
          `path segment '${segment}' is not a plain name (letters, digits, '.', '_', '-')`,
        );
      }
    }
    return { kind: "hub", owner, repo, revision, file: fileParts.join("/") };
  }
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new ModelSourceError(source, "not a valid URL");
    }
    return { kind: "url", url };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new ModelSourceError(source, "only http:, https: and hf: sources are supported");
  }
  return { kind: "file", path: source };
}

/** The download URL of a hub file: `<hub>/<owner>/<repo>/resolve/<revision>/<file>`. */
export function hubFileUrl(
  source: Extract<ModelSource, { kind: "hub" }>,
  hubUrl: string,
): URL {
  const base = hubUrl.endsWith("/") ? hubUrl : hubUrl + "/";
  const path = [source.owner, source.repo, "resolve", source.revision, source.file]
    .map((p) => p.split("/").map(encodeURIComponent).join("/"))
    .join("/");
  return new URL(path, base);
}

/** The default cache directory: `$FLINT_CACHE_DIR`, else `$XDG_CACHE_HOME/flint`, else `~/.cache/flint`. */
export function defaultCacheDir(env: (name: string) => string | undefined): string {
  const explicit = env(CACHE_DIR_ENV);
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/flint`;
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) throw new Error(`cannot find a cache directory: set ${CACHE_DIR_ENV} or HOME`);
  return `${home}/.cache/flint`;
}
