/** Text renderings of download progress: a one-line bar for terminals and plain lines for logs. */
import type { DownloadProgress } from "./download.ts";

/** Bytes in binary units: `512 B`, `1.50 MiB`, `4.07 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${units[unit]}`;
}

/** Seconds as `45s`, `3m07s` or `1h02m`; `?` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Formats a terminal progress bar of about `width` + 45 columns, without a line ending. */
export function progressBar(p: DownloadProgress, width = 30): string {
  const rate = `${formatBytes(p.bytesPerSecond)}/s`;
  if (p.total === undefined || p.total === 0) {
    return `${formatBytes(p.received)}  ${rate}`;
  }
  const fraction = Math.min(1, p.received / p.total);
  const filled = Math.round(fraction * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const percent = `${(fraction * 100).toFixed(1)}%`.padStart(6);
  return `[${bar}] ${percent} ${formatBytes(p.received)} / ${formatBytes(p.total)}  ${rate}  ETA ${
    formatDuration(p.etaSeconds)
  }`;
}

/** Formats a plain log line: `downloaded 1.23 GiB of 4.07 GiB (30.2%) at 25.3 MiB/s, ETA 1m52s`. */
export function progressLine(p: DownloadProgress): string {
  const rate = `${formatBytes(p.bytesPerSecond)}/s`;
  if (p.total === undefined || p.total === 0) {
    return `downloaded ${formatBytes(p.received)} at ${rate}`;
  }
  const percent = ((100 * p.received) / p.total).toFixed(1);
  return `downloaded ${formatBytes(p.received)} of ${
    formatBytes(p.total)
  } (${percent}%) at ${rate}, ETA ${formatDuration(p.etaSeconds)}`;
}
