/** The `serve`, `chat` and `complete` commands. */
import type { ChatMessage, GenerateOptions } from "../engine/types.ts";
import { ContextError } from "../model/errors.ts";
import { createHandler, defaultModelId } from "../server/mod.ts";
import type { Model } from "../model/mod.ts";
import { type CliIo, loadModelOption, memoryLine } from "./load.ts";
import {
  CliError,
  commandHelp,
  type CommandName,
  intOption,
  numberOption,
  parseCommand,
  type ParsedOptions,
  UsageError,
} from "./options.ts";

export { type CliIo } from "./load.ts";
export { CliError, commandHelp, COMMANDS, UsageError } from "./options.ts";

/** Runs `serve`, `chat` or `complete` with its arguments; returns the exit code. */
export async function runCommand(
  command: CommandName,
  args: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const { options, positionals } = parseCommand(command, args);
  if (options.help) {
    await io.write(commandHelp(command) + "\n");
    return 0;
  }
  if (command === "serve") return await serve(options, positionals, io, signal);
  if (command === "chat") return await chat(options, positionals, io, signal);
  return await complete(options, positionals, io, signal);
}

/** Sampling options shared by `chat` and `complete`. */
function samplingOptions(options: ParsedOptions): GenerateOptions {
  const result: GenerateOptions = {
    maxTokens: intOption(options, "max-tokens", -1),
    // As in llama.cpp, a temperature at or below 0 means greedy sampling.
    temperature: clampTemperature(numberOption(options, "temperature", -100, 100)),
    topK: intOption(options, "top-k", 0),
    topP: numberOption(options, "top-p", 0, 1),
    minP: numberOption(options, "min-p", 0, 1),
    repeatPenalty: numberOption(options, "repeat-penalty", 0, 10),
    seed: intOption(options, "seed", Number.MIN_SAFE_INTEGER),
    stop: options.stop as string[] | undefined,
  };
  return Object.fromEntries(
    Object.entries(result).filter(([, v]) => v !== undefined),
  ) as GenerateOptions;
}

function clampTemperature(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.max(0, value);
}

async function serve(
  options: ParsedOptions,
  positionals: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}'; use --model <source>`);
  }
  const hostname = (options.host as string | undefined) ?? "127.0.0.1";
  const port = intOption(options, "port", 0, 65535) ?? 8080;
  const slots = intOption(options, "parallel", 1, 256) ?? 1;
  const queueSize = intOption(options, "queue-size", 0) ?? 64;
  const maxBodyBytes = intOption(options, "max-body", 1);
  const apiKey = (options["api-key"] as string | undefined) ?? io.env("FLINT_API_KEY");
  const corsList = options.cors as string[] | undefined;
  const cors = corsList === undefined ? true : corsList.includes("none") ? false : corsList;

  const { model, nCtx, threads } = await loadModelOption(options, io);
  const modelId = (options.alias as string | undefined) ?? defaultModelId(model);
  const handler = createHandler({
    model,
    modelId,
    slots,
    queueSize,
    nCtx,
    apiKey,
    cors,
    maxBodyBytes,
    logger: io.logger,
  });
  io.logger.info(
    `serving "${modelId}": ${slots} slot${slots === 1 ? "" : "s"} of ${nCtx} tokens, ` +
      `queue ${queueSize}, threads ${threads}, API key ${apiKey ? "required" : "not required"}`,
  );
  io.logger.info(memoryLine());

  const stop = new AbortController();
  signal?.addEventListener("abort", () => stop.abort(), { once: true });
  let server: Deno.HttpServer;
  try {
    server = listen();
  } catch (error) {
    await model.close();
    const where = `${hostname}:${port}`;
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `cannot listen on ${where}: the address is in use; stop the other server or pick ` +
          `another --port (0 picks a free one)`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.NotFound) {
      throw new CliError(`cannot listen on ${where}: no such local address; check --host`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new CliError(`cannot listen on ${where}: ${(error as Error).message}`);
    }
    throw error;
  }
  await server.finished;
  io.logger.info("server stopped");
  await model.close();
  return 0;

  function listen(): Deno.HttpServer {
    return Deno.serve({
      hostname,
      port,
      signal: stop.signal,
      onListen: (addr) => {
        const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        io.logger.info(
          `listening on http://${host}:${addr.port} (chat page at /, OpenAI API at /v1)`,
        );
      },
      onError: (error) => {
        io.logger.error(`unhandled error: ${(error as Error)?.stack ?? error}`);
        return Response.json({
          error: {
            message: "internal server error",
            type: "server_error",
            param: null,
            code: null,
          },
        }, { status: 500 });
      },
    }, handler);
  }
}

/** Reads stdin line by line. */
async function* lines(stdin: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const text of stdin.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer !== "") yield buffer;
}

/** Streams one generation to stdout; returns the text and logs the token rate. */
async function streamTo(
  io: CliIo,
  stream: ReadableStream<{ text: string; usage?: { completionTokens: number } }>,
): Promise<string> {
  const started = performance.now();
  let text = "";
  let tokens = 0;
  try {
    for await (const chunk of stream) {
      text += chunk.text;
      if (chunk.text) await io.write(chunk.text);
      if (chunk.usage) tokens = chunk.usage.completionTokens;
    }
  } catch (error) {
    if ((error as Error)?.name !== "AbortError") throw error;
    io.logger.info("generation stopped");
  }
  const seconds = (performance.now() - started) / 1000;
  io.logger.debug(
    `${tokens} tokens in ${seconds.toFixed(1)} s (${(tokens / seconds).toFixed(1)} tok/s)`,
  );
  return text;
}

async function chat(
  options: ParsedOptions,
  positionals: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const sampling = samplingOptions(options);
  const { model } = await loadModelOption(options, io);
  const session = model.createSession();
  const system = options.system as string | undefined;
  const initial: ChatMessage[] = system ? [{ role: "system", content: system }] : [];
  let history = [...initial];
  await io.write("type a message; /reset clears the chat, /exit quits\n> ");
  for await (const line of lines(io.stdin)) {
    if (signal?.aborted) break;
    const text = line.trim();
    if (text === "/exit" || text === "/quit") break;
    if (text === "/reset") {
      history = [...initial];
      await io.write("(chat cleared)\n> ");
      continue;
    }
    if (text === "") {
      await io.write("> ");
      continue;
    }
    history.push({ role: "user", content: text });
    // Ctrl-C during a reply stops the reply; while waiting for input it exits as usual.
    const turn = new AbortController();
    const onAbort = () => turn.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    Deno.addSignalListener("SIGINT", onAbort);
    let reply: string | undefined;
    try {
      reply = await chatTurn(io, session, history, initial.length, {
        ...sampling,
        signal: turn.signal,
      });
    } finally {
      Deno.removeSignalListener("SIGINT", onAbort);
      signal?.removeEventListener("abort", onAbort);
    }
    if (reply !== undefined) {
      history.push({ role: "assistant", content: reply });
      await io.write("\n");
    }
    await io.write("> ");
  }
  await io.write("\n");
  await model.close();
  return 0;
}

/**
 * Streams the reply to the last message of `history`. When the chat outgrows the context,
 * drops the oldest turns after the first `keep` messages and retries. When the last message
 * alone does not fit, removes it, logs a warning and returns undefined.
 */
async function chatTurn(
  io: CliIo,
  session: ReturnType<Model["createSession"]>,
  history: ChatMessage[],
  keep: number,
  options: GenerateOptions,
): Promise<string | undefined> {
  for (;;) {
    try {
      return await streamTo(io, session.chat(history, options));
    } catch (error) {
      if (!(error instanceof ContextError)) throw error;
      // The error comes before the first token: the prompt itself does not fit.
      const turns = history.length - keep;
      if (turns <= 1) {
        history.pop();
        io.logger.warn(
          `${error.message}: the message does not fit; send a shorter one, /reset the ` +
            `chat or restart with a larger --ctx-size`,
        );
        return undefined;
      }
      const dropped = history[keep + 1]?.role === "assistant" ? 2 : 1;
      history.splice(keep, Math.min(dropped, turns - 1));
      io.logger.warn(
        `the chat outgrew the context of ${session.nCtx} tokens; dropped its oldest turn ` +
          `(/reset clears the chat, --ctx-size sets the context)`,
      );
    }
  }
}

async function complete(
  options: ParsedOptions,
  positionals: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  if (positionals.length !== 1) {
    throw new UsageError(
      `expected one prompt argument (or '-' for stdin), found ${positionals.length}`,
    );
  }
  const prompt = positionals[0] === "-" ? await new Response(io.stdin).text() : positionals[0];
  const sampling = samplingOptions(options);
  const { model } = await loadModelOption(options, io);
  const session = model.createSession();
  try {
    await streamTo(io, session.generate(prompt, { ...sampling, signal }));
  } catch (error) {
    if (!(error instanceof ContextError)) throw error;
    await model.close();
    throw new CliError(
      `${error.message}; shorten the prompt or raise --ctx-size (the model was trained ` +
        `on ${model.nCtxTrain} tokens)`,
    );
  }
  // A final newline, so that the shell prompt starts on its own line.
  await io.write("\n");
  await model.close();
  return 0;
}
