/**
 * `deno run --allow-read --allow-env tools/golden_diff.ts [TYPE…] [--rows] [--flint-order]`:
 * compares the forward pass (with matmulOrder "ggml", or "flint" with --flint-order)
 * with llama.cpp's logits of every micro model (or the named types) and
 * prints, per file and sequence, how many positions match to 1e-5, the first position
 * that does not, the max |Δlogit| and the RMS of Δlogit. `--rows` also prints the max
 * |Δ| of each position that does not match. Needs the shared reference data.
 */
import { allocKvCache, loadModel } from "../src/model/mod.ts";
import { HAVE_TESTDATA, testdataPath } from "../tests/testdata.ts";

const TYPES = [
  "F32",
  "F16",
  "BF16",
  "Q8_0",
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q2_K",
  "Q3_K_S",
  "Q3_K_M",
  "Q3_K_L",
  "Q4_K_S",
  "Q4_K_M",
  "Q5_K_S",
  "Q5_K_M",
  "Q6_K",
  "IQ4_NL",
  "IQ4_XS",
];
/** A position whose logits all lie within this of llama.cpp's counts as exact. */
const EXACT = 1e-5;

/** Match statistics of one sequence. */
export interface DiffStats {
  positions: number;
  exactRows: number;
  /** First position that is not exact, or -1. */
  firstBad: number;
  max: number;
  rms: number;
  /** Max |Δ| of each position. */
  rowMax: number[];
}

/** Compares `got` [positions][nVocab] with llama.cpp's rows. */
export function diffLogits(got: Float32Array, want: number[][], nVocab: number): DiffStats {
  let max = 0;
  let sumSq = 0;
  let exactRows = 0;
  let firstBad = -1;
  const rowMax: number[] = [];
  for (let i = 0; i < want.length; i++) {
    let m = 0;
    for (let j = 0; j < nVocab; j++) {
      const d = Math.abs(got[i * nVocab + j] - Math.fround(want[i][j]));
      m = Math.max(m, d);
      sumSq += d * d;
    }
    rowMax.push(m);
    if (m <= EXACT) exactRows++;
    else if (firstBad < 0) firstBad = i;
    max = Math.max(max, m);
  }
  return {
    positions: want.length,
    exactRows,
    firstBad,
    max,
    rms: Math.sqrt(sumSq / (want.length * nVocab)),
    rowMax,
  };
}

function row(type: string, label: string, s: DiffStats): string {
  return [
    type.padEnd(7),
    label,
    `${s.exactRows}/${s.positions}`.padStart(7),
    String(s.firstBad).padStart(5),
    s.max.toExponential(2).padStart(9),
    s.rms.toExponential(2).padStart(9),
  ].join("  ");
}

if (import.meta.main) {
  if (!HAVE_TESTDATA) throw new Error("the shared reference data is missing");
  const showRows = Deno.args.includes("--rows");
  const wanted = Deno.args.filter((a) => !a.startsWith("--"));
  const types = wanted.length > 0 ? wanted : TYPES;
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  out("type     seq  exact  first        max       rms");
  let totalExact = 0;
  let total = 0;
  for (const type of types) {
    const golden = JSON.parse(
      await Deno.readTextFile(testdataPath(`golden/micro-${type}.json`)),
    );
    const model = await loadModel(testdataPath(`models/micro-${type}.gguf`), {
      nCtx: 512,
      cacheType: "f32",
      threads: 1,
      matmulOrder: Deno.args.includes("--flint-order") ? "flint" : "ggml",
    });
    try {
      const nVocab = model.hparams.nVocab;
      for (
        const [label, tokens, logits] of [
          ["a", golden.tokens, golden.logits],
          ["b", golden.long.tokens, golden.long.logits],
        ] as [string, number[], number[][]][]
      ) {
        const cache = allocKvCache(model.kernels, model.hparams, 512, "f32");
        const got = model.forward.eval(cache, tokens, 0, "all");
        const s = diffLogits(got, logits, nVocab);
        totalExact += s.exactRows;
        total += s.positions;
        out(row(type, `  ${label}`, s));
        if (showRows) {
          const bad = s.rowMax.flatMap((m, i) => m > EXACT ? [`${i}:${m.toExponential(1)}`] : []);
          if (bad.length > 0) out(`    ${bad.join(" ")}`);
        }
      }
    } finally {
      await model.close();
    }
  }
  out(`exact rows: ${totalExact}/${total}`);
}
