/**
 * flint's command line: `inspect` prints a GGUF file's header and tensor table; `serve`
 * runs the OpenAI-compatible server, `chat` a terminal chat, `complete` one completion.
 *
 * @module
 */
import { closeGguf, formatInspect, GgufError, readGguf } from "./mod.ts";
import { CliError, type CliIo, COMMANDS, runCommand, UsageError } from "./src/cli/commands.ts";
import { DownloadError, ModelSourceError } from "./src/hub/mod.ts";
import { ContextError, ModelError } from "./src/model/errors.ts";

async function inspect(pathOrUrl: string): Promise<void> {
  const file = await readGguf(pathOrUrl);
  try {
    // deno-lint-ignore no-console
    console.log(formatInspect(file).trimEnd());
  } finally {
    await closeGguf(file);
  }
}

/** Terminal access for serve/chat/complete: logs and progress go to stderr, text to stdout. */
function consoleIo(verbose: boolean): CliIo {
  const encoder = new TextEncoder();
  const line = (level: string) => (message: string) =>
    // deno-lint-ignore no-console
    console.error(`${new Date().toISOString()} ${level} ${message}`);
  const stderrIsTerminal = Deno.stderr.isTerminal();
  return {
    logger: {
      debug: verbose ? line("DEBUG") : () => {},
      info: line("INFO"),
      warn: line("WARN"),
      error: line("ERROR"),
    },
    write: async (text) => {
      const bytes = encoder.encode(text);
      for (let written = 0; written < bytes.length;) {
        written += await Deno.stdout.write(bytes.subarray(written));
      }
    },
    status: stderrIsTerminal
      ? (text, done) => Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${text}${done ? "\n" : ""}`))
      : undefined,
    stdin: Deno.stdin.readable,
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    env: (name) => Deno.env.get(name),
  };
}

async function runModelCommand(command: keyof typeof COMMANDS, args: string[]): Promise<number> {
  const verbose = args.includes("-v") || args.includes("--verbose");
  const stop = new AbortController();
  const signals: Deno.Signal[] = command === "serve" ? ["SIGINT", "SIGTERM"] : [];
  const onSignal = () => stop.abort();
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    return await runCommand(command, args, consoleIo(verbose), stop.signal);
  } catch (error) {
    if (error instanceof UsageError) {
      // deno-lint-ignore no-console
      console.error(`error: ${error.message}\nrun 'cli.ts ${command} --help' for the options`);
      return 2;
    }
    throw error;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}

const USAGE = "usage: cli.ts <command> [options]\n" +
  "  inspect <path|url>   print a GGUF file's metadata and tensors\n" +
  Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(20)} ${c.summary.split(";")[0]}`)
    .join("\n") +
  "\nrun 'cli.ts <command> --help' for its options";

const INSPECT_USAGE = "Print a GGUF file's metadata and tensor table.\n\n" +
  "usage: cli.ts inspect <path|url>";

/** Prints a usage error and the usage to stderr; returns exit code 2. */
function usageError(message: string, usage: string): number {
  // deno-lint-ignore no-console
  console.error(`error: ${message}\n${usage}`);
  return 2;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h" || arg === "help";
  if (Object.hasOwn(COMMANDS, command ?? "")) {
    return await runModelCommand(command as keyof typeof COMMANDS, rest);
  }
  if (command === "inspect") {
    if (rest.some(isHelp)) {
      // deno-lint-ignore no-console
      console.log(INSPECT_USAGE);
      return 0;
    }
    if (rest.length !== 1) {
      return usageError(`inspect expects one path or URL, found ${rest.length}`, INSPECT_USAGE);
    }
    await inspect(rest[0]);
    return 0;
  }
  if (isHelp(command)) {
    // deno-lint-ignore no-console
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) return usageError("no command given", USAGE);
  return usageError(`unknown command '${command}'`, USAGE);
}

/** Returns the one-line message of an error caused by the user's input or setup, else undefined. */
function userMessage(error: unknown): string | undefined {
  if (
    error instanceof GgufError || error instanceof ModelError || error instanceof ContextError ||
    error instanceof DownloadError || error instanceof ModelSourceError ||
    error instanceof CliError || error instanceof Deno.errors.NotFound
  ) {
    return error.message;
  }
  return undefined;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const message = userMessage(error);
    if (message === undefined) throw error;
    // deno-lint-ignore no-console
    console.error(`error: ${message}`);
    Deno.exit(1);
  }
}
