/**
 * GGUF header parsing speed: `deno bench --allow-read bench/gguf_bench.ts`. Needs the
 * shared reference data beside the repository.
 */
import { closeGguf, readGguf } from "../src/gguf/mod.ts";
import { testdataPath } from "../tests/testdata.ts";

const stories = testdataPath("models/stories260K.gguf");
const deepseek = testdataPath("vocab/ggml-vocab-deepseek-llm.gguf");
const storiesBytes = await Deno.readFile(stories);
const deepseekBytes = await Deno.readFile(deepseek);

Deno.bench("stories260K header, in memory (512 tokens, 48 tensors)", async () => {
  await readGguf(storiesBytes);
});

Deno.bench("stories260K header, from a file", async () => {
  await closeGguf(await readGguf(stories));
});

Deno.bench("deepseek-llm vocab, in memory (102400 tokens, 99757 merges, 4 MB)", async () => {
  await readGguf(deepseekBytes);
});

Deno.bench("deepseek-llm vocab, from a file", async () => {
  await closeGguf(await readGguf(deepseek));
});
