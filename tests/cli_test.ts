/**
 * The `serve`, `chat` and `complete` commands run as a user runs them: `deno run cli.ts`
 * in a subprocess, with stories260K, on loopback only.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../src/cli/options.ts";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const MODEL = testdataPath("models/stories260K.gguf");

function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-no-legacy-abort", CLI, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  });
}

async function run(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  const child = cli(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function goldenText(): Promise<string> {
  const golden = JSON.parse(
    await Deno.readTextFile(testdataPath("golden/stories260K-greedy.json")),
  );
  return golden.greedy.pieces.join("");
}

Deno.test("help of each command lists every option", async () => {
  for (const [name, command] of Object.entries(COMMANDS)) {
    const { code, stdout } = await run([name, "--help"]);
    assert.equal(code, 0, name);
    assert.ok(stdout.includes(`usage: cli.ts ${command.usage}`), name);
    for (const option of Object.keys(command.options)) {
      assert.ok(stdout.includes(`--${option}`), `${name} --help lacks --${option}`);
    }
  }
  const serve = (await run(["serve", "--help"])).stdout;
  assert.match(serve, /--ctx-size <tokens>\s+Context size of each session's KV cache, in tokens/);
  assert.match(serve, /--port <number>\s+TCP port/);
  assert.match(serve, /--max-body <bytes>\s+Largest request body, in bytes/);
});

Deno.test("usage errors exit with code 2", async () => {
  const bad = await run(["serve", "--port", "http"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --port 'http': expected an integer from 0 to 65535/);
  const unknown = await run(["complete", "--frobnicate", "x"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /frobnicate/);
  const cacheType = await run(["serve", "--cache-type", "q8_0", "--model", "x.gguf"]);
  assert.equal(cacheType.code, 2);
  assert.match(cacheType.stderr, /invalid --cache-type 'q8_0': expected f16 or f32/);
  const bogus = await run(["complete", "--bogus", "x"]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^error: unknown option '--bogus'\n/);
  // Negative values parse as values, in every spelling, and are range-checked.
  for (const args of [["-n", "-2"], ["-n=-2"], ["--max-tokens", "-2"], ["--max-tokens=-2"]]) {
    const negative = await run(["complete", ...args, "x"]);
    assert.equal(negative.code, 2, args.join(" "));
    assert.match(negative.stderr, /invalid --max-tokens '-2': expected an integer >= -1/);
  }
});

Deno.test("top-level help, unknown commands and inspect help", async () => {
  for (const flag of ["--help", "-h", "help"]) {
    const help = await run([flag]);
    assert.equal(help.code, 0, flag);
    assert.match(help.stdout, /^usage: cli.ts <command> \[options\]\n/, flag);
    assert.equal(help.stderr, "", flag);
  }
  const unknown = await run(["bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown command 'bogus'\nusage: cli.ts <command>/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^error: no command given\n/);
  for (const flag of ["--help", "-h"]) {
    const inspect = await run(["inspect", flag]);
    assert.equal(inspect.code, 0, flag);
    assert.match(inspect.stdout, /usage: cli.ts inspect <path\|url>/);
  }
  const twoFiles = await run(["inspect", "a.gguf", "b.gguf"]);
  assert.equal(twoFiles.code, 2);
  assert.match(twoFiles.stderr, /inspect expects one path or URL, found 2/);
});

Deno.test({
  name: "negative option values reach the sampler",
  ignore: !HAVE_TESTDATA,
  async fn() {
    // -n -1 runs until the 24-token context is full; temperature -1 is greedy (llama.cpp).
    const args = ["complete", "-m", MODEL, "-t", "1", "-c", "24", "-n", "-1"];
    const { code, stdout, stderr } = await run([
      ...args,
      "--temperature",
      "-1",
      "Once upon a time",
    ]);
    assert.equal(code, 0, stderr);
    const text = stdout.slice(0, -1);
    assert.ok(text.length > 40, JSON.stringify(stdout));
    assert.ok((await goldenText()).startsWith(text), JSON.stringify(stdout));
  },
});

Deno.test({
  name: "user errors print one line without a stack trace",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const noTrace = (stderr: string) => assert.ok(!/Uncaught| {4}at /.test(stderr), stderr);
    const long = await run([
      "complete",
      "-m",
      MODEL,
      "-t",
      "1",
      "-c",
      "8",
      "one two three four five six seven eight",
    ]);
    assert.equal(long.code, 1);
    assert.match(
      long.stderr,
      /error: the prompt has \d+ tokens, which does not fit the context of 8; shorten the prompt or raise --ctx-size/,
    );
    noTrace(long.stderr);

    const huge = await run(["complete", "-m", MODEL, "-c", "99999999", "x"]);
    assert.equal(huge.code, 1);
    assert.match(huge.stderr, /error: --ctx-size 99999999 needs a f16 KV cache of [\d.]+ GiB/);
    assert.ok(!huge.stderr.includes("loading model"), "checked before loading");
    noTrace(huge.stderr);

    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = String((busy.addr as Deno.NetAddr).port);
      const inUse = await run(["serve", "-m", MODEL, "-t", "1", "--port", port]);
      assert.equal(inUse.code, 1);
      assert.match(
        inUse.stderr,
        new RegExp(`error: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`),
      );
      noTrace(inUse.stderr);
    } finally {
      busy.close();
    }
  },
});

Deno.test({
  name: "complete prints the greedy continuation",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const { code, stdout, stderr } = await run([
      "complete",
      "--model",
      MODEL,
      "--temperature",
      "0",
      "--max-tokens",
      "30",
      "--threads",
      "1",
      "Once upon a time",
    ]);
    assert.equal(code, 0, stderr);
    assert.ok(stdout.length > 50);
    // The text, then one newline so that the shell prompt starts on its own line.
    assert.ok(stdout.endsWith("\n"), JSON.stringify(stdout));
    assert.ok((await goldenText()).startsWith(stdout.slice(0, -1)), JSON.stringify(stdout));
    assert.match(stderr, /INFO model "llama" loaded in [\d.]+ s: llama, n_embd 64, n_layer 5/);
    assert.match(stderr, /INFO quant mix: F32 48/);
  },
});

Deno.test({
  name: "complete downloads an hf model once",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const bytes = await Deno.readFile(MODEL);
    const paths: string[] = [];
    const hub = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      paths.push(new URL(request.url).pathname);
      return new Response(bytes, { headers: { "content-length": String(bytes.length) } });
    });
    const cacheDir = await Deno.makeTempDir({ prefix: "flint-cli-test-" });
    try {
      const args = [
        "complete",
        "--model",
        "hf:tiny/stories-GGUF/stories260K.gguf",
        "--cache-dir",
        cacheDir,
        "--temperature",
        "0",
        "-n",
        "10",
        "-t",
        "1",
        "Once upon a time",
      ];
      const env = { FLINT_HUB_URL: `http://127.0.0.1:${hub.addr.port}` };
      const first = await run(args, { env });
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(paths, ["/tiny/stories-GGUF/resolve/main/stories260K.gguf"]);
      // stderr is a pipe, so progress comes as plain lines.
      assert.match(first.stderr, /INFO downloaded 1\.13 MiB of 1\.13 MiB \(100\.0%\) at /);
      assert.ok(!first.stderr.includes("\r"));
      assert.deepEqual(
        await Deno.readFile(`${cacheDir}/hub/tiny/stories-GGUF/main/stories260K.gguf`),
        bytes,
      );
      const second = await run(args, { env });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, first.stdout);
      assert.equal(paths.length, 1, "the cached file is used without a request");
    } finally {
      await hub.shutdown();
      await Deno.remove(cacheDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "complete reports a missing hub file",
  async fn() {
    const hub = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("not found", { status: 404 }),
    );
    const cacheDir = await Deno.makeTempDir({ prefix: "flint-cli-test-" });
    try {
      const result = await run([
        "complete",
        "--model",
        "hf:a/b/missing.gguf",
        "--hub-url",
        `http://127.0.0.1:${hub.addr.port}`,
        "--cache-dir",
        cacheDir,
        "x",
      ]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^error: download of http:\/\/127\.0\.0\.1:\d+\/a\/b\/resolve\/main\/missing\.gguf failed: HTTP 404/m,
      );
    } finally {
      await hub.shutdown();
      await Deno.remove(cacheDir, { recursive: true });
    }
  },
});

/** Reads stderr lines until one matches, returning that match; fails at end of stream. */
async function waitForLine(
  lines: AsyncIterator<string>,
  pattern: RegExp,
  seen: string[],
): Promise<RegExpExecArray> {
  while (true) {
    const { done, value } = await lines.next();
    if (done) throw new Error(`stream ended before ${pattern}:\n${seen.join("\n")}`);
    seen.push(value);
    const match = pattern.exec(value);
    if (match) return match;
  }
}

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
    }
  }
}

Deno.test({
  name: "serve answers requests and stops on SIGTERM",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const child = cli([
      "serve",
      "--model",
      MODEL,
      "--port",
      "0",
      "--threads",
      "1",
      "--parallel",
      "2",
      "--alias",
      "stories",
      "--api-key",
      "k3y",
    ]).spawn();
    const seen: string[] = [];
    const lines = splitLines(child.stderr);
    try {
      const listen = await waitForLine(lines, /listening on (http:\/\/127\.0\.0\.1:\d+)/, seen);
      const url = listen[1];
      const startup = seen.join("\n");
      assert.match(startup, /loading model .*stories260K\.gguf \(1\.13 MiB\)/);
      assert.match(startup, /quant mix: F32 48/);
      assert.match(startup, /serving "stories": 2 slots of 128 tokens, queue 64, threads 1/);
      assert.match(startup, /memory: rss /);

      const denied = await fetch(`${url}/v1/models`);
      assert.equal(denied.status, 401);
      await denied.body?.cancel();
      const response = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { authorization: "Bearer k3y" },
        body: JSON.stringify({
          model: "stories",
          prompt: "Once upon a time",
          max_tokens: 12,
          temperature: 0,
        }),
      });
      assert.equal(response.status, 200);
      const json = await response.json();
      assert.ok((await goldenText()).startsWith(json.choices[0].text));
      await waitForLine(
        lines,
        /INFO POST \/v1\/completions 200 in=5 out=12 [\d.]+ tok\/s \d+ ms$/,
        seen,
      );
      assert.ok(seen.some((l) => /WARN GET \/v1\/models 401/.test(l)), seen.join("\n"));
      const page = await fetch(url + "/");
      assert.match(await page.text(), /<title>flint chat<\/title>/);

      child.kill("SIGTERM");
      await waitForLine(lines, /server stopped/, seen);
      assert.equal((await child.status).code, 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      for await (const _ of lines) {
        // Drain stderr so the pipe closes.
      }
      await child.stdout.cancel();
    }
  },
});

Deno.test({
  name: "chat streams replies for each stdin line",
  ignore: !HAVE_TESTDATA,
  async fn() {
    const { code, stdout, stderr } = await run(
      ["chat", "--model", MODEL, "--temperature", "0", "-n", "12", "-t", "1"],
      { stdin: "Hello there\n/reset\nTell me a story\n/exit\nnot read\n" },
    );
    assert.equal(code, 0, stderr);
    const prompts = stdout.split("> ");
    // Banner, two replies and the reset notice, then the final prompt.
    assert.match(prompts[0], /^type a message; \/reset clears the chat, \/exit quits\n$/);
    assert.ok(prompts[1].trim().length > 0, `empty first reply: ${JSON.stringify(stdout)}`);
    assert.equal(prompts[2], "(chat cleared)\n");
    assert.ok(prompts[3].trim().length > 0, `empty second reply: ${JSON.stringify(stdout)}`);
    assert.ok(!stdout.includes("not read"));
  },
});

Deno.test({
  name: "chat drops old turns when the context is full",
  ignore: !HAVE_TESTDATA,
  async fn() {
    // Unlimited replies fill the 128-token context, so each later turn must drop turns.
    const { code, stdout, stderr } = await run(
      ["chat", "--model", MODEL, "--temperature", "0", "-t", "1"],
      { stdin: "Hi\nHello\nOnce more\n" + "word ".repeat(200) + "\n/exit\n" },
    );
    assert.equal(code, 0, stderr);
    assert.ok(!/Uncaught|ContextError/.test(stderr), stderr);
    assert.match(
      stderr,
      /WARN the chat outgrew the context of 128 tokens; dropped its oldest turn/,
    );
    assert.match(
      stderr,
      /WARN the prompt has \d+ tokens, which does not fit the context of 128: the message does not fit/,
    );
    const prompts = stdout.split("> ");
    assert.ok(prompts[2].trim().length > 0, `empty second reply: ${JSON.stringify(stdout)}`);
    assert.ok(prompts[3].trim().length > 0, `empty third reply: ${JSON.stringify(stdout)}`);
    assert.equal(prompts[4], "", "the message that cannot fit gets no reply");
  },
});
