/**
 * The last layer runs its attention output and FFN only for the rows whose logits are
 * returned. These tests check that this changes no bit of the logits and leaves the KV
 * cache as a full pass would.
 */
import assert from "node:assert/strict";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";
import { allocKvCache, loadModel } from "../src/model/mod.ts";

function firstDiff(a: Float32Array, b: Float32Array): number | undefined {
  if (a.length !== b.length) return -1;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) return i;
  }
  return undefined;
}

for (const type of ["F32", "Q4_K_M", "Q8_0"]) {
  Deno.test({
    name: `pruned last layer keeps the logits (micro-${type})`,
    ignore: !HAVE_TESTDATA,
    async fn() {
      const golden = JSON.parse(
        await Deno.readTextFile(testdataPath(`golden/micro-${type}.json`)),
      );
      const tokens: number[] = golden.long.tokens;
      const model = await loadModel(testdataPath(`models/micro-${type}.gguf`), {
        nCtx: 256,
        threads: 1,
      });
      try {
        const nVocab = model.hparams.nVocab;
        const n = tokens.length;
        const f = model.forward;
        const full = f.eval(
          allocKvCache(model.kernels, model.hparams, 256, "f16"),
          tokens,
          0,
          "all",
        );
        const lastRow = full.slice((n - 1) * nVocab);

        // One batch, last row only.
        const last = f.eval(
          allocKvCache(model.kernels, model.hparams, 256, "f16"),
          tokens,
          0,
          "last",
        );
        assert.equal(firstDiff(last, lastRow), undefined, "one batch, last row");

        // An inner batch without logits, then the rest: the second batch attends to the
        // last layer's K and V that the first one stored without running the rest.
        const cache = allocKvCache(model.kernels, model.hparams, 256, "f16");
        const split = 60;
        assert.equal(f.eval(cache, tokens.slice(0, split), 0, "none").length, 0);
        const rest = f.eval(cache, tokens.slice(split), split, "all");
        assert.equal(
          firstDiff(rest, full.slice(split * nVocab)),
          undefined,
          "two batches, rows after the split",
        );

        // A single next token after a pruned prompt.
        const a = allocKvCache(model.kernels, model.hparams, 256, "f16");
        const b = allocKvCache(model.kernels, model.hparams, 256, "f16");
        f.eval(a, tokens.slice(0, n - 1), 0, "none");
        f.eval(b, tokens.slice(0, n - 1), 0, "all");
        assert.equal(
          firstDiff(f.eval(a, [tokens[n - 1]], n - 1), f.eval(b, [tokens[n - 1]], n - 1)),
          undefined,
          "next token after a pruned prompt",
        );
      } finally {
        await model.close();
      }
    },
  });
}
