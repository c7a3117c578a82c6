import assert from "node:assert/strict";
import type { DownloadProgress } from "./download.ts";
import { formatBytes, formatDuration, progressBar, progressLine } from "./progress.ts";

const MiB = 1024 * 1024;

function progress(received: number, total: number | undefined): DownloadProgress {
  return {
    url: "http://127.0.0.1/m.gguf",
    received,
    total,
    bytesPerSecond: 10 * MiB,
    etaSeconds: total === undefined ? undefined : (total - received) / (10 * MiB),
    done: received === total,
  };
}

Deno.test("formatBytes uses binary units", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(4.07 * 1024 * MiB), "4.07 GiB");
});

Deno.test("formatDuration picks the unit", () => {
  assert.equal(formatDuration(undefined), "?");
  assert.equal(formatDuration(Infinity), "?");
  assert.equal(formatDuration(45.4), "45s");
  assert.equal(formatDuration(187), "3m07s");
  assert.equal(formatDuration(3720), "1h02m");
});

Deno.test("progressBar shows fraction, size, rate and ETA", () => {
  const bar = progressBar(progress(25 * MiB, 100 * MiB), 20);
  assert.equal(
    bar,
    "[#####---------------]  25.0% 25.00 MiB / 100.00 MiB  10.00 MiB/s  ETA 8s",
  );
  assert.equal(progressBar(progress(5 * MiB, undefined)), "5.00 MiB  10.00 MiB/s");
});

Deno.test("progressLine is plain text", () => {
  assert.equal(
    progressLine(progress(50 * MiB, 200 * MiB)),
    "downloaded 50.00 MiB of 200.00 MiB (25.0%) at 10.00 MiB/s, ETA 15s",
  );
  assert.equal(progressLine(progress(MiB, undefined)), "downloaded 1.00 MiB at 10.00 MiB/s");
});
