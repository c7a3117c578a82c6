/**
 * Model loading for the CLI commands: resolves the source (downloading with a progress
 * display), loads the model and logs what was loaded.
 */
import { closeGguf, ggmlTypeName, readGguf } from "../gguf/mod.ts";
import { formatBytes, progressBar, progressLine, resolveModel } from "../hub/mod.ts";
import {
  type CacheType,
  kvCacheBytes,
  loadModel,
  type Model,
  readLlamaHparams,
} from "../model/mod.ts";
import type { Logger } from "../server/types.ts";
import {
  cacheTypeOption,
  CliError,
  DEFAULT_MODEL,
  intOption,
  type ParsedOptions,
} from "./options.ts";

/** Terminal access the commands use; `cli.ts` provides the real one, tests their own. */
export interface CliIo {
  logger: Logger;
  /** Writes text to stdout as is. */
  write(text: string): Promise<void>;
  /** Redraws a one-line status on a terminal's stderr; `done` ends the line. */
  status?(line: string, done: boolean): void;
  stdin: ReadableStream<Uint8Array>;
  stdoutIsTerminal: boolean;
  env(name: string): string | undefined;
}

/** Seconds between plain progress lines when stderr is not a terminal. */
const PLAIN_PROGRESS_SECONDS = 5;

/** Resolves `--model`, downloading it when remote, and returns the local path. */
export async function resolveModelOption(options: ParsedOptions, io: CliIo): Promise<string> {
  const source = (options.model as string | undefined) ?? DEFAULT_MODEL;
  let lastPlain = -Infinity;
  return await resolveModel(source, {
    cacheDir: options["cache-dir"] as string | undefined,
    hubUrl: options["hub-url"] as string | undefined,
    logger: io.logger,
    onProgress: (p) => {
      if (io.status) {
        io.status(progressBar(p), p.done);
      } else if (p.done || performance.now() - lastPlain > PLAIN_PROGRESS_SECONDS * 1000) {
        lastPlain = performance.now();
        io.logger.info(progressLine(p));
      }
    },
  });
}

/** Loads the model named by the options and logs its parameters, quant mix and memory. */
export async function loadModelOption(
  options: ParsedOptions,
  io: CliIo,
): Promise<{ model: Model; path: string; nCtx: number; threads: number }> {
  // Check every option before the (possibly long) download.
  const threads = intOption(options, "threads", 1, 256) ?? navigator.hardwareConcurrency ?? 1;
  const nCtx = intOption(options, "ctx-size", 1);
  const cacheType = cacheTypeOption(options);
  const path = await resolveModelOption(options, io);
  const size = (await Deno.stat(path)).size;
  if (nCtx !== undefined) await checkCtxMemory(path, nCtx, cacheType ?? "f16");
  io.logger.info(`loading model ${path} (${formatBytes(size)})`);
  const started = performance.now();
  let model: Model;
  try {
    model = await loadModel(path, {
      nCtx,
      cacheType,
      threads,
      logger: io.logger,
      onProgress: io.status ? loadProgress(io.status) : undefined,
    });
  } catch (error) {
    // The kernels' WebAssembly.Memory could not be created or grown.
    if (error instanceof RangeError && /memory/i.test(error.message)) {
      throw new CliError(
        `cannot allocate memory for ${path} with --ctx-size ${nCtx ?? "default"}: ` +
          `${error.message}; use a smaller --ctx-size or --cache-type f16`,
      );
    }
    throw error;
  }
  const hp = model.hparams;
  io.logger.info(
    `model "${model.name}" loaded in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
      `${hp.arch}, n_embd ${hp.nEmbd}, n_layer ${hp.nLayer}, n_head ${hp.nHead}, ` +
      `n_head_kv ${hp.nHeadKv}, n_ff ${hp.nFf}, n_vocab ${hp.nVocab}, ` +
      `n_ctx_train ${hp.nCtxTrain}, rope_freq_base ${hp.ropeFreqBase}`,
  );
  io.logger.info(`quant mix: ${quantMix(model)}`);
  io.logger.info(
    `n_ctx ${model.nCtx}, cache ${model.cacheType} (${
      formatBytes(kvCacheBytes(hp, model.nCtx, model.cacheType))
    } per session), threads ${threads}`,
  );
  return { model, path, nCtx: model.nCtx, threads };
}

/** Kernel memory limit: V8's memory64 maximum (see src/kernels/runtime.ts). */
const KERNEL_MEMORY_LIMIT = 16 * 2 ** 30;

/**
 * Rejects a `--ctx-size` whose KV cache cannot fit in kernel memory beside the weights,
 * before anything that large is allocated. Reads only the GGUF header.
 */
async function checkCtxMemory(path: string, nCtx: number, cacheType: CacheType): Promise<void> {
  const file = await readGguf(path);
  try {
    const hp = readLlamaHparams(file);
    const weights = file.tensors.reduce((sum, t) => sum + Number(t.nBytes), 0);
    const cache = kvCacheBytes(hp, nCtx, cacheType);
    if (weights + cache > KERNEL_MEMORY_LIMIT) {
      throw new CliError(
        `--ctx-size ${nCtx} needs a ${cacheType} KV cache of ${formatBytes(cache)} beside ` +
          `${formatBytes(weights)} of weights, more than the ${
            formatBytes(KERNEL_MEMORY_LIMIT)
          } flint's kernels can address; use a smaller --ctx-size (the model was trained ` +
          `on ${hp.nCtxTrain} tokens)`,
      );
    }
  } finally {
    await closeGguf(file);
  }
}

/** Returns a weight-loading progress callback that redraws at most every 100 ms. */
function loadProgress(status: NonNullable<CliIo["status"]>) {
  let last = -Infinity;
  return (loaded: number, total: number) => {
    const done = loaded >= total;
    if (!done && performance.now() - last < 100) return;
    last = performance.now();
    const percent = total > 0 ? ((100 * loaded) / total).toFixed(1) : "100.0";
    status(`loading weights ${percent}% ${formatBytes(loaded)} / ${formatBytes(total)}`, done);
  };
}

/** Tensor counts and bytes per GGML type, largest first: `Q4_K 193 (3.80 GiB), ...`. */
export function quantMix(model: Model): string {
  const byType = new Map<string, { count: number; bytes: number }>();
  for (const tensor of model.file.tensors) {
    const name = ggmlTypeName(tensor.type);
    const entry = byType.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += Number(tensor.nBytes);
    byType.set(name, entry);
  }
  return [...byType].sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([name, e]) => `${name} ${e.count} (${formatBytes(e.bytes)})`)
    .join(", ");
}

/** Process memory for the startup log. */
export function memoryLine(): string {
  const usage = Deno.memoryUsage();
  return `memory: rss ${formatBytes(usage.rss)}, JS heap ${formatBytes(usage.heapUsed)}, ` +
    `external ${formatBytes(usage.external)}`;
}
