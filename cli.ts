/**
 * flint's command line: `inspect` prints a GGUF file's header and tensor table.
 *
 * @module
 */
import { closeGguf, GGML_TYPES, GgufError, readGguf } from "./mod.ts";

async function inspect(path: string): Promise<void> {
  const file = await readGguf(path);
  // deno-lint-ignore no-console
  const print = console.log;
  print(`GGUF v${file.version}: ${file.metadata.size} keys, ${file.tensors.length} tensors`);
  for (const [key, value] of file.metadata) {
    const text = Array.isArray(value) || ArrayBuffer.isView(value)
      ? `[${(value as ArrayLike<unknown>).length} values]`
      : String(value);
    print(`  ${key} = ${text}`);
  }
  for (const t of file.tensors) {
    print(`  ${t.name} ${GGML_TYPES[t.type].name} [${t.ne.join(", ")}] ${t.nBytes} bytes`);
  }
  await closeGguf(file);
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "inspect" && rest.length === 1) {
    await inspect(rest[0]);
    return 0;
  }
  // deno-lint-ignore no-console
  console.error("usage: cli.ts inspect <path>");
  return 2;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (!(error instanceof GgufError)) throw error;
    // deno-lint-ignore no-console
    console.error(`error: ${error.message}`);
    Deno.exit(1);
  }
}
