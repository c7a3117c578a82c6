/**
 * Model sources and the download cache: local paths, URLs and `hf:owner/repo/file.gguf`.
 *
 * @module
 */
export {
  DownloadError,
  downloadFile,
  type DownloadLogger,
  type DownloadOptions,
  type DownloadProgress,
  resolveModel,
  type ResolveOptions,
} from "./download.ts";
export {
  CACHE_DIR_ENV,
  DEFAULT_HUB_URL,
  defaultCacheDir,
  HUB_URL_ENV,
  hubFileUrl,
  type ModelSource,
  ModelSourceError,
  parseModelSource,
} from "./spec.ts";
export { formatBytes, formatDuration, progressBar, progressLine } from "./progress.ts";
