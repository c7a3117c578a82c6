/**
 * flint's command line: `inspect` prints a GGUF file's header and tensor table.
 *
 * @module
 */
import { closeGguf, formatInspect, GgufError, readGguf } from "./mod.ts";

async function inspect(pathOrUrl: string): Promise<void> {
  const file = await readGguf(pathOrUrl);
  try {
    // deno-lint-ignore no-console
    console.log(formatInspect(file).trimEnd());
  } finally {
    await closeGguf(file);
  }
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "inspect" && rest.length === 1) {
    await inspect(rest[0]);
    return 0;
  }
  // deno-lint-ignore no-console
  console.error("usage: cli.ts inspect <path|url>");
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
