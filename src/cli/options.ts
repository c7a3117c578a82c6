/**
 * Command-line options of `serve`, `chat` and `complete`: one table per command that both
 * the parser and `--help` read, so the help always lists what is accepted.
 */
import { parseArgs } from "node:util";

/** The model `serve`, `chat` and `complete` use when `--model` is not given. */
export const DEFAULT_MODEL = "hf:MaziyarPanahi/WizardLM-2-7B-GGUF/WizardLM-2-7B.Q4_K_M.gguf";

interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder shown in help, such as `<tokens>`. */
  value?: string;
  /** Help text: the setting, its unit and its default. */
  help: string;
  multiple?: boolean;
  /** Other long names accepted for this option, such as llama.cpp's spelling. */
  aliases?: string[];
}

const MODEL_OPTIONS: Record<string, OptionSpec> = {
  model: {
    type: "string",
    short: "m",
    value: "<path|url|hf:owner/repo/file.gguf>",
    help: `GGUF model to load: a local path, an https URL, or a hub file. Default ${DEFAULT_MODEL}`,
  },
  "ctx-size": {
    type: "string",
    short: "c",
    value: "<tokens>",
    help: "Context size of each session's KV cache, in tokens. Default: the model's " +
      "training context, at most 4096",
  },
  "cache-type": {
    type: "string",
    value: "<f16|f32>",
    help: "Element type of the KV cache. Default f16",
  },
  threads: {
    type: "string",
    short: "t",
    value: "<count>",
    help: "Threads for the compute kernels, including the main thread. Default: all cores",
  },
  "hub-url": {
    type: "string",
    value: "<url>",
    help: "Base URL for hf: models. Default $FLINT_HUB_URL, else https://huggingface.co",
  },
  "cache-dir": {
    type: "string",
    value: "<dir>",
    help: "Directory for downloaded models. Default $FLINT_CACHE_DIR, else " +
      "$XDG_CACHE_HOME/flint or ~/.cache/flint",
  },
  verbose: { type: "boolean", short: "v", help: "Log debug messages" },
  help: { type: "boolean", short: "h", help: "Show this help" },
};

const SAMPLING_OPTIONS: Record<string, OptionSpec> = {
  "max-tokens": {
    type: "string",
    short: "n",
    aliases: ["n-predict"],
    value: "<tokens>",
    help: "Maximum tokens to generate; -1 runs until the context is full. Default -1",
  },
  temperature: {
    type: "string",
    aliases: ["temp"],
    value: "<number>",
    help: "Sampling temperature; 0 always picks the most likely token. Default 0.8",
  },
  "top-k": {
    type: "string",
    value: "<count>",
    help: "Keep the k most likely tokens; 0 disables. Default 40",
  },
  "top-p": {
    type: "string",
    value: "<0..1>",
    help: "Nucleus sampling mass; 1 disables. Default 0.95",
  },
  "min-p": {
    type: "string",
    value: "<0..1>",
    help: "Drop tokens below this fraction of the top probability; 0 disables. Default 0.05",
  },
  "repeat-penalty": {
    type: "string",
    value: "<number>",
    help: "Penalty on recently seen tokens; 1 disables. Default 1",
  },
  seed: { type: "string", short: "s", value: "<integer>", help: "Random seed. Default: random" },
  stop: {
    type: "string",
    value: "<text>",
    multiple: true,
    help: "Stop generating at this text (repeatable); the text is not printed",
  },
};

/** Options per command. */
export const COMMANDS = {
  serve: {
    summary: "Serve a model over HTTP: OpenAI API at /v1, llama.cpp's /completion, chat page at /",
    usage: "serve [options]",
    options: {
      ...MODEL_OPTIONS,
      host: {
        type: "string",
        value: "<address>",
        help: "Address to listen on; 0.0.0.0 listens on every interface. Default 127.0.0.1",
      },
      port: {
        type: "string",
        short: "p",
        value: "<number>",
        help: "TCP port to listen on; 0 picks a free one. Default 8080",
      },
      parallel: {
        type: "string",
        value: "<count>",
        help: "Concurrent generations (slots), each with its own KV cache of --ctx-size. Default 1",
      },
      "queue-size": {
        type: "string",
        value: "<count>",
        help: "Requests that may wait for a free slot; more get HTTP 503. Default 64",
      },
      "api-key": {
        type: "string",
        value: "<key>",
        help:
          "Require 'Authorization: Bearer <key>' on API routes. Default $FLINT_API_KEY, else none",
      },
      alias: {
        type: "string",
        value: "<id>",
        help: "Model id in /v1/models and in requests. Default: the file name without .gguf",
      },
      cors: {
        type: "string",
        value: "<origin>",
        multiple: true,
        help: "Origin allowed by CORS (repeatable); 'none' sends no CORS headers. Default: any",
      },
      "max-body": {
        type: "string",
        value: "<bytes>",
        help: "Largest request body, in bytes; larger ones get HTTP 413. Default 4194304",
      },
    },
  },
  chat: {
    summary: "Chat with a model in the terminal; replies stream as they are generated. " +
      "/reset clears the history, /exit or Ctrl-D quits, Ctrl-C stops a reply",
    usage: "chat [options]",
    options: {
      ...MODEL_OPTIONS,
      ...SAMPLING_OPTIONS,
      system: { type: "string", value: "<text>", help: "System message that starts the chat" },
    },
  },
  complete: {
    summary: "Continue one prompt and print the text to stdout as it is generated",
    usage: "complete [options] <prompt | ->   ('-' reads the prompt from stdin, as is)",
    options: { ...MODEL_OPTIONS, ...SAMPLING_OPTIONS },
  },
} satisfies Record<string, { summary: string; usage: string; options: Record<string, OptionSpec> }>;

export type CommandName = keyof typeof COMMANDS;

/** A command-line usage error; the CLI prints it with the command's usage line. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A user-facing failure (bad setup or input) that the CLI prints as one line, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

/** Builds the help text of one command. */
export function commandHelp(command: CommandName): string {
  const { summary, usage, options } = COMMANDS[command];
  const lines = [`${summary}.`, "", `usage: cli.ts ${usage}`, "", "options:"];
  const entries = Object.entries(options as Record<string, OptionSpec>);
  const labels = entries.map(([name, spec]) => {
    const names = [name, ...(spec.aliases ?? [])].map((n) => `--${n}`).join(", ");
    return `${spec.short ? `-${spec.short}, ` : "    "}${names}${
      spec.value ? ` ${spec.value}` : ""
    }`;
  });
  const width = Math.min(44, Math.max(...labels.map((l) => l.length)) + 2);
  entries.forEach(([, spec], i) => {
    const label = labels[i];
    if (label.length + 2 > width) {
      lines.push(`  ${label}`, `  ${" ".repeat(width)}${spec.help}`);
    } else {
      lines.push(`  ${label.padEnd(width)}${spec.help}`);
    }
  });
  return lines.join("\n");
}

/** Parsed options: strings (or string lists) and booleans, keyed by long name. */
export type ParsedOptions = Record<string, string | string[] | boolean | undefined>;

/** Parses a command's arguments, throwing {@link UsageError} for unknown or malformed ones. */
export function parseCommand(
  command: CommandName,
  args: string[],
): { options: ParsedOptions; positionals: string[] } {
  const specs = COMMANDS[command].options as Record<string, OptionSpec>;
  const config = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        multiple: spec.multiple ?? false,
        ...(spec.short ? { short: spec.short } : {}),
      },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: normalizeArgs(args, specs),
      options: config,
      allowPositionals: true,
      strict: true,
    });
    return { options: values as ParsedOptions, positionals };
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    const unknown = /^Unknown option '([^']*)'/.exec(message);
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) {
      throw new UsageError(`unknown option '${unknown[1]}'`);
    }
    throw new UsageError(message);
  }
}

/**
 * Rewrites value options into `--name=value` form so that values starting with a dash,
 * such as `-n -1` or `--temperature -0.5`, are read as values; `parseArgs` would take them
 * for options. Also accepts `-n=-1`, and replaces an alias (`--temp`) by its option's
 * name. Arguments after `--` stay as they are.
 */
function normalizeArgs(args: string[], specs: Record<string, OptionSpec>): string[] {
  const byShort = new Map<string, string>();
  const byAlias = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.short) byShort.set(spec.short, name);
    for (const alias of spec.aliases ?? []) byAlias.set(alias, name);
  }
  const unalias = (arg: string) => {
    const long = /^--([^=]+)(=.*)?$/s.exec(arg);
    const name = long ? byAlias.get(long[1]) : undefined;
    return name === undefined ? arg : `--${name}${long![2] ?? ""}`;
  };
  const takesValue = (name: string | undefined) =>
    name !== undefined && Object.hasOwn(specs, name) && specs[name].type === "string";
  const result: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = unalias(args[i]);
    if (arg === "--") {
      result.push(...args.slice(i));
      break;
    }
    const shortEq = /^-([^-])=(.*)$/s.exec(arg);
    if (shortEq && takesValue(byShort.get(shortEq[1]))) {
      result.push(`--${byShort.get(shortEq[1])}=${shortEq[2]}`);
      continue;
    }
    const name = arg.startsWith("--")
      ? arg.slice(2)
      : /^-[^-]$/.test(arg)
      ? byShort.get(arg[1])
      : undefined;
    if (takesValue(name) && i + 1 < args.length && /^-(\d|\.\d|Infinity)/.test(args[i + 1])) {
      result.push(`--${name}=${args[++i]}`);
      continue;
    }
    result.push(arg);
  }
  return result;
}

/** Reads an integer option within bounds, or `undefined` when absent. */
export function intOption(
  options: ParsedOptions,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = options[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== "string" || !/^-?\d+$/.test(raw) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`invalid --${name} '${raw}': expected an integer ${range}`);
  }
  return value;
}

/** Reads a number option within bounds, or `undefined` when absent. */
export function numberOption(
  options: ParsedOptions,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = options[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !(value >= min && value <= max)) {
    throw new UsageError(`invalid --${name} '${raw}': expected a number from ${min} to ${max}`);
  }
  return value;
}

/** Reads `--cache-type`. */
export function cacheTypeOption(options: ParsedOptions): "f16" | "f32" | undefined {
  const raw = options["cache-type"];
  if (raw === undefined) return undefined;
  if (raw !== "f16" && raw !== "f32") {
    throw new UsageError(`invalid --cache-type '${raw}': expected f16 or f32`);
  }
  return raw;
}
