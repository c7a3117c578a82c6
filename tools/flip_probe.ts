/**
 * `deno run --allow-read --allow-env tools/flip_probe.ts TYPE a|b [--candidates N]`:
 * looks for the activation code that makes a micro model's prompt logits leave
 * llama.cpp's (matmulOrder "ggml"). A quantized code that differs from ggml's moves a
 * whole position's logits by about 0.01, so the probe changes one value at the first
 * position that is not exact and reruns the batch:
 * - the N values (default 20) whose scaled activation lies closest to a rounding
 *   midpoint, each moved just across it, so that only that code flips;
 * - the largest element of each 256-value block, moved by ±1 to ±16 ULP, which changes
 *   the Q8_K scale of the block and so possibly several codes at once.
 * It prints each change that raises the number of exact positions. A hit names the
 * matrix input that contains the differing code. The op that computes that input is
 * the next suspect.
 * Needs the shared reference data.
 */
import { activationType } from "../src/kernels/quant.ts";
import { GgmlType } from "../src/gguf/mod.ts";
import { allocKvCache, loadModel } from "../src/model/mod.ts";
import type { LayerWeights, LlamaWeights, Weight } from "../src/model/mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../tests/testdata.ts";
import { diffLogits } from "./golden_diff.ts";

/** Activations that feed a matmul, named as LlamaForward's hook names them. */
const INPUTS = ["attn_norm", "kqv_out", "ffn_norm", "ffn_swiglu", "result_norm"];

/** Activation types of the matmuls that read the named input of layer `il`. */
function consumerTypes(w: LlamaWeights, name: string, il: number): GgmlType[] {
  const weights = name === "result_norm" ? [w.output] : layerConsumers(w.layers[il], name);
  return [...new Set(weights.map((m) => activationType(m.type)))];
}

function layerConsumers(l: LayerWeights, name: string): Weight[] {
  if (name === "attn_norm") return [l.attnQ, l.attnK, l.attnV];
  if (name === "kqv_out") return [l.attnOutput];
  if (name === "ffn_norm") return [l.ffnGate, l.ffnUp];
  return [l.ffnDown];
}

/**
 * Returns the value ggml rounds to a code for element j of `row`, and whether element j
 * is the block's largest magnitude (which sets the block scale, so its code is fixed).
 */
function scaledValue(row: Float32Array, j: number, act: GgmlType) {
  const block = act === GgmlType.Q8_K ? 256 : 32;
  const start = j - (j % block);
  let amax = 0;
  let max = 0;
  for (let e = start; e < start + block; e++) {
    if (Math.abs(row[e]) > amax) {
      amax = Math.abs(row[e]);
      max = row[e];
    }
  }
  if (amax === 0) return { value: 0, isMax: true };
  const scale = act === GgmlType.Q8_K ? Math.fround(-127 / max) : Math.fround(127 / amax);
  return { value: Math.fround(row[j] * scale), isMax: Math.abs(row[j]) === amax };
}

/** Distance of |v| from the nearest rounding midpoint k + 0.5. */
function midpointDistance(v: number): number {
  const a = Math.abs(v);
  return Math.abs(a - Math.floor(a) - 0.5);
}

const bits = new Float32Array(1);
const bitsInt = new Int32Array(bits.buffer);
/** x moved by `ulps` units in the last place, away from zero for ulps > 0. */
function stepUlps(x: number, ulps: number): number {
  bits[0] = x;
  bitsInt[0] += ulps;
  return bits[0];
}

if (import.meta.main) {
  if (!HAVE_TESTDATA) throw new Error("the shared reference data is missing");
  const [type, seq] = Deno.args.filter((a) => !a.startsWith("--"));
  if (!type || (seq !== "a" && seq !== "b")) {
    throw new Error("usage: flip_probe.ts TYPE a|b [--candidates N]");
  }
  const at = Deno.args.indexOf("--candidates");
  const nCandidates = at >= 0 ? Number(Deno.args[at + 1]) : 20;
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));

  const golden = JSON.parse(await Deno.readTextFile(testdataPath(`golden/micro-${type}.json`)));
  const tokens: number[] = seq === "a" ? golden.tokens : golden.long.tokens;
  const want: number[][] = seq === "a" ? golden.logits : golden.long.logits;
  const model = await loadModel(testdataPath(`models/micro-${type}.gguf`), {
    nCtx: 512,
    cacheType: "f32",
    threads: 1,
    matmulOrder: "ggml",
  });
  try {
    const forward = model.forward;
    const nVocab = model.hparams.nVocab;
    /** Runs the batch with `edit` applied to row `t` of each named activation. */
    const run = (t: number, edit?: (name: string, layer: number, row: Float32Array) => void) => {
      forward.hook = edit
        ? (name, layer, ptr, floats) => {
          const width = floats / tokens.length;
          const row = new Float32Array(model.kernels.memory.buffer, ptr + t * width * 4, width);
          edit(name, layer, row);
        }
        : undefined;
      const cache = allocKvCache(model.kernels, model.hparams, 512, "f32");
      const stats = diffLogits(forward.eval(cache, tokens, 0, "all"), want, nVocab);
      forward.hook = undefined;
      return stats;
    };

    const base = run(0);
    const t = base.firstBad;
    out(`${type} ${seq}: ${base.exactRows}/${base.positions} exact, first inexact position ${t}`);
    if (t < 0) Deno.exit(0);

    // Near-midpoint codes at position t, closest first.
    const candidates: { name: string; layer: number; j: number; act: GgmlType; gap: number }[] = [];
    run(t, (name, layer, row) => {
      if (!INPUTS.includes(name)) return;
      for (const act of consumerTypes(forward.weights, name, layer)) {
        if (![GgmlType.Q8_0, GgmlType.Q8_1, GgmlType.Q8_K].includes(act)) continue;
        for (let j = 0; j < row.length; j++) {
          const { value, isMax } = scaledValue(row, j, act);
          if (!isMax) candidates.push({ name, layer, j, act, gap: midpointDistance(value) });
        }
      }
    });
    candidates.sort((x, y) => x.gap - y.gap);
    for (const c of candidates.slice(0, nCandidates)) {
      const s = run(t, (name, layer, row) => {
        if (name !== c.name || layer !== c.layer) return;
        const start = Math.abs(scaledValue(row, c.j, c.act).value);
        const up = start - Math.floor(start) < 0.5 ? 1 : -1;
        for (let k = 0; k < 1 << 16; k++) {
          row[c.j] = stepUlps(row[c.j], up);
          const now = Math.abs(scaledValue(row, c.j, c.act).value);
          if (Math.floor(now) !== Math.floor(start) || (now - Math.floor(now) < 0.5) !== (up > 0)) {
            break;
          }
        }
      });
      if (s.exactRows > base.exactRows) {
        out(
          `code flip: ${c.name} layer ${c.layer} element ${c.j} (midpoint gap ${
            c.gap.toExponential(2)
          }) -> ${s.exactRows}/${s.positions} exact`,
        );
      }
    }

    // Block maxima at position t.
    for (const name of INPUTS) {
      const layers = name === "result_norm" ? [-1] : [...forward.weights.layers.keys()];
      for (const layer of layers) {
        for (let block = 0;; block++) {
          let width = 0;
          for (const ulps of [-16, -8, -4, -2, -1, 1, 2, 4, 8, 16]) {
            const s = run(t, (n, l, row) => {
              if (n !== name || l !== layer) return;
              width = row.length;
              if ((block + 1) * 256 > row.length) return;
              let amax = 0;
              let arg = block * 256;
              for (let e = block * 256; e < (block + 1) * 256; e++) {
                if (Math.abs(row[e]) > amax) {
                  amax = Math.abs(row[e]);
                  arg = e;
                }
              }
              row[arg] = stepUlps(row[arg], ulps);
            });
            if (s.exactRows > base.exactRows) {
              out(
                `block max: ${name} layer ${layer} block ${block} moved ${ulps} ULP -> ${s.exactRows}/${s.positions} exact`,
              );
            }
          }
          if ((block + 2) * 256 > width) break;
        }
      }
    }
  } finally {
    await model.close();
  }
}
