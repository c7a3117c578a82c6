/**
 * End-to-end tests of the HTTP server with the real stories260K model on a loopback
 * port, driven by the official OpenAI SDK and by raw fetch.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import type { GenerationChunk, Session } from "../src/engine/types.ts";
import { loadModel, type Model } from "../mod.ts";
import { createHandler, type HandlerOptions, type ServerModel } from "../src/server/mod.ts";
import { HAVE_TESTDATA, testdataPath } from "./testdata.ts";

const MODEL_PATH = "models/stories260K.gguf";

let modelPromise: Promise<Model> | undefined;
/** Loads the model once for the whole file; it is never closed because the tests share it. */
function getModel(): Promise<Model> {
  modelPromise ??= loadModel(testdataPath(MODEL_PATH), { threads: 2 });
  return modelPromise;
}

interface TestServer {
  url: string;
  logs: string[];
  close(): Promise<void>;
}

async function startServer(
  options: Partial<HandlerOptions> = {},
  wrap?: (model: Model) => ServerModel,
): Promise<TestServer> {
  const model = await getModel();
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const handler = createHandler({
    model: wrap ? wrap(model) : model,
    logger: { debug: log, info: log, warn: log, error: log },
    ...options,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    logs,
    close: () => server.shutdown(),
  };
}

function client(server: TestServer): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
}

async function goldenText(): Promise<string> {
  const golden = JSON.parse(
    await Deno.readTextFile(testdataPath("golden/stories260K-greedy.json")),
  );
  return golden.greedy.pieces.join("");
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: !HAVE_TESTDATA, sanitizeResources: false, sanitizeOps: false, fn });

test("openai sdk completion matches llama.cpp greedy text", async () => {
  const server = await startServer();
  try {
    const openai = client(server);
    const completion = await openai.completions.create({
      model: "stories260K",
      prompt: "Once upon a time",
      max_tokens: 40,
      temperature: 0,
    });
    const golden = await goldenText();
    const text = completion.choices[0].text;
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.choices[0].finish_reason, "length");
    assert.equal(completion.usage?.prompt_tokens, 5);
    assert.equal(completion.usage?.completion_tokens, 40);
    assert.ok(
      golden.startsWith(text),
      `${JSON.stringify(text)} is not a prefix of the golden text`,
    );
    assert.ok(text.length > 100);
  } finally {
    await server.close();
  }
});

test("openai sdk streamed completion equals non-streamed", async () => {
  const server = await startServer();
  try {
    const openai = client(server);
    const request = { model: "stories260K", prompt: "The cat", max_tokens: 50, temperature: 0 };
    const plain = await openai.completions.create(request);
    const stream = await openai.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage;
    let finish;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      text += chunk.choices[0].text;
      finish = chunk.choices[0].finish_reason ?? finish;
      chunks++;
    }
    assert.equal(text, plain.choices[0].text);
    assert.ok(chunks > 10, `only ${chunks} chunks: not streamed token by token`);
    assert.equal(finish, plain.choices[0].finish_reason);
    assert.deepEqual(usage, plain.usage);
  } finally {
    await server.close();
  }
});

test("openai sdk chat streamed equals non-streamed", async () => {
  const server = await startServer();
  try {
    const openai = client(server);
    const request = {
      model: "stories260K",
      messages: [
        { role: "system" as const, content: "You tell short stories." },
        { role: "user" as const, content: "Tell me about a dog." },
      ],
      max_tokens: 40,
      temperature: 0,
    };
    const plain = await openai.chat.completions.create(request);
    assert.equal(plain.object, "chat.completion");
    assert.equal(plain.choices[0].message.role, "assistant");
    const content = plain.choices[0].message.content ?? "";
    assert.ok(content.length > 0);
    assert.ok(plain.usage!.prompt_tokens > 10);
    const stream = await openai.chat.completions.create({ ...request, stream: true });
    let text = "";
    let role;
    let finish;
    for await (const chunk of stream) {
      role ??= chunk.choices[0]?.delta.role;
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(role, "assistant");
    assert.equal(text, content);
    assert.equal(finish, plain.choices[0].finish_reason);
  } finally {
    await server.close();
  }
});

test("openai sdk chat logprobs from the model", async () => {
  const server = await startServer();
  try {
    const chat = await client(server).chat.completions.create({
      model: "stories260K",
      messages: [{ role: "user", content: "Once upon a time" }],
      max_tokens: 5,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    });
    const entries = chat.choices[0].logprobs?.content ?? [];
    assert.equal(entries.length, 5);
    for (const entry of entries) {
      assert.ok(entry.logprob <= 0);
      assert.equal(entry.top_logprobs.length, 3);
      // Greedy sampling picks the most likely token.
      assert.equal(entry.token, entry.top_logprobs[0].token);
      assert.equal(entry.logprob, entry.top_logprobs[0].logprob);
    }
  } finally {
    await server.close();
  }
});

test("raw SSE framing over the socket", async () => {
  const server = await startServer();
  try {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 8,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const bytes = new Uint8Array(await response.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    // Only LF line endings, each event one `data: ` line followed by a blank line.
    assert.ok(!bytes.includes(13), "no CR bytes");
    assert.ok(text.startsWith('data: {"id":"chatcmpl-'));
    assert.ok(text.endsWith("\n\ndata: [DONE]\n\n"));
    const events = text.slice(0, -2).split("\n\n");
    for (const event of events) assert.match(event, /^data: [^\n]+$/);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.usage.completion_tokens, 8);
    const finishChunk = chunks.at(-2);
    assert.deepEqual(finishChunk.choices[0].delta, {});
    assert.equal(finishChunk.choices[0].finish_reason, "length");
    for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null);
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1);
  } finally {
    await server.close();
  }
});

test("openai sdk lists the model and reports errors", async () => {
  const server = await startServer({ modelId: "stories" });
  try {
    const openai = client(server);
    const models = await openai.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ["stories"]);
    await assert.rejects(
      openai.chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "hi" }],
      }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.NotFoundError);
        assert.equal(error.status, 404);
        assert.equal(error.code, "model_not_found");
        assert.match(error.message, /gpt-4o/);
        return true;
      },
    );
    await assert.rejects(
      openai.completions.create({ model: "stories", prompt: "x", max_tokens: -4 }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.param, "max_tokens");
        return true;
      },
    );
  } finally {
    await server.close();
  }
});

test("native completion, tokenize and detokenize", async () => {
  const server = await startServer();
  try {
    const post = async (path: string, body: unknown) =>
      await (await fetch(server.url + path, { method: "POST", body: JSON.stringify(body) })).json();
    const tokens = await post("/tokenize", { content: "Once upon a time", add_special: true });
    assert.deepEqual(tokens.tokens, [1, 403, 407, 261, 378]);
    // As in llama-server, pieces show control tokens by their text.
    const pieces = await post("/tokenize", {
      content: "Once",
      add_special: true,
      with_pieces: true,
    });
    assert.deepEqual(pieces.tokens, [{ id: 1, piece: "<s>" }, { id: 403, piece: " Once" }]);
    const text = await post("/detokenize", { tokens: [403, 407, 261, 378] });
    assert.equal(text.content, "Once upon a time");

    const response = await fetch(server.url + "/completion", {
      method: "POST",
      body: JSON.stringify({
        prompt: "Once upon a time",
        n_predict: 12,
        temperature: 0,
        stream: true,
      }),
    });
    const events = (await response.text()).trim().split("\n\n").map((e) => JSON.parse(e.slice(6)));
    const last = events.at(-1);
    assert.equal(last.stop, true);
    assert.equal(last.tokens_predicted, 12);
    assert.equal(last.timings.predicted_n, 12);
    const streamed = events.filter((e) => !e.stop).map((e) => e.content).join("");
    assert.ok((await goldenText()).startsWith(streamed));
    const plain = await post("/completion", {
      prompt: [1, 403, 407, 261, 378],
      n_predict: 12,
      temperature: 0,
    });
    assert.equal(plain.content, streamed);
    // Settings in effect: the requested ones, else the defaults (llama.cpp's).
    const settings = plain.generation_settings;
    assert.equal(settings.temperature, 0);
    assert.equal(settings.n_predict, 12);
    assert.equal(settings.top_k, 40);
    assert.equal(settings.top_p, 0.95);
    assert.equal(settings.min_p, 0.05);
    assert.equal(settings.repeat_penalty, 1);
    assert.equal(settings.repeat_last_n, 64);
    assert.equal(settings.seed, 4294967295);
  } finally {
    await server.close();
  }
});

interface ConcurrentRequest {
  prompt: string;
  seed: number;
}

async function streamCompletion(url: string, request: ConcurrentRequest): Promise<string> {
  const response = await fetch(`${url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ ...request, max_tokens: 24, temperature: 0.9, stream: true }),
  });
  assert.equal(response.status, 200);
  const text = await response.text();
  return text.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) =>
    JSON.parse(e.slice(6)).choices[0]?.text ?? ""
  ).join("");
}

test("16 concurrent streams each equal their sequential result", async () => {
  const prompts = [
    "Once upon a time",
    "The dog",
    "Lily went",
    "A big red",
    "Tom and Sue",
    "The sun",
  ];
  const requests: ConcurrentRequest[] = Array.from({ length: 16 }, (_, i) => ({
    prompt: prompts[i % prompts.length],
    seed: 1000 + i,
  }));
  const server = await startServer({ slots: 4, queueSize: 16 });
  try {
    const sequential: string[] = [];
    for (const request of requests) sequential.push(await streamCompletion(server.url, request));
    // Different seeds give different text, so cross-talk would show.
    assert.ok(new Set(sequential).size > 8, "seeds should give varied text");
    const concurrent = await Promise.all(requests.map((r) => streamCompletion(server.url, r)));
    for (let i = 0; i < requests.length; i++) {
      assert.equal(concurrent[i], sequential[i], `request ${i} (${JSON.stringify(requests[i])})`);
    }
  } finally {
    await server.close();
  }
});

/**
 * Wraps the real model so a test can hold a generation after `holdAfter` tokens and see
 * when the server cancels it.
 */
class GatedModel implements ServerModel {
  pulled = 0;
  cancelled = 0;
  gate = Promise.withResolvers<void>();
  reached = Promise.withResolvers<void>();
  constructor(readonly model: Model, readonly holdAfter: number) {}
  get name() {
    return this.model.name;
  }
  get tokenizer() {
    return this.model.tokenizer;
  }
  createSession(options?: { nCtx?: number }): Session {
    const session = this.model.createSession(options);
    const gated = (stream: ReadableStream<GenerationChunk>) => {
      const reader = stream.getReader();
      return new ReadableStream<GenerationChunk>({
        pull: async (controller) => {
          if (this.pulled === this.holdAfter) {
            this.reached.resolve();
            await this.gate.promise;
          }
          const { done, value } = await reader.read();
          if (done) return controller.close();
          this.pulled++;
          controller.enqueue(value);
        },
        cancel: async () => {
          this.cancelled++;
          await reader.cancel();
        },
      }, { highWaterMark: 0 });
    };
    return {
      nCtx: session.nCtx,
      generate: (input, opts) => gated(session.generate(input, opts)),
      chat: (messages, opts) => gated(session.chat(messages, opts)),
    };
  }
}

test("client disconnect mid-stream frees its slot", async () => {
  let gated: GatedModel | undefined;
  const server = await startServer({ slots: 1, queueSize: 0 }, (model) => {
    gated = new GatedModel(model, 5);
    return gated;
  });
  try {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 100, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    await gated!.reached.promise;
    // While the slot is held, a second request finds the queue full.
    const busy = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ prompt: "x", max_tokens: 1 }),
    });
    assert.equal(busy.status, 503);
    await busy.body?.cancel();
    controller.abort();
    // The server notices the disconnect while the generation is held between tokens.
    for (let i = 0; i < 200 && gated!.cancelled === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(gated!.cancelled, 1);
    gated!.gate.resolve();
    // Let the held pull run on; it must find the stream cancelled and generate nothing.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(gated!.pulled, 5, "no token was generated after the disconnect");
    const health = await (await fetch(`${server.url}/health`)).json();
    assert.equal(health.slots_idle, 1);
    const next = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 3, temperature: 0 }),
    });
    assert.equal(next.status, 200);
    assert.equal((await next.json()).usage.completion_tokens, 3);
    assert.ok(server.logs.some((l) => l.includes("(client disconnected)")), server.logs.join("\n"));
  } finally {
    gated?.gate.resolve();
    await server.close();
  }
});

test("malformed requests over the socket get 4xx", async () => {
  const server = await startServer({ maxBodyBytes: 64 * 1024 });
  try {
    const send = async (path: string, init: RequestInit) => {
      const response = await fetch(server.url + path, init);
      const body = await response.json();
      return { status: response.status, error: body.error };
    };
    const cases: [string, RequestInit & { path?: string }, number, string | null][] = [
      ["bad JSON", { method: "POST", body: "{" }, 400, null],
      ["wrong type", { method: "POST", body: '{"messages":"hi"}' }, 400, "messages"],
      [
        "unknown model",
        { method: "POST", body: '{"model":"nope","messages":[{"role":"user","content":"x"}]}' },
        404,
        "model",
      ],
      [
        "unknown model route",
        { method: "GET", path: "/v1/models/nope" },
        404,
        "model",
      ],
      [
        "model not a string",
        { method: "POST", body: '{"model":7,"messages":[{"role":"user","content":"x"}]}' },
        400,
        "model",
      ],
      [
        "negative max_tokens",
        { method: "POST", body: '{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}' },
        400,
        "max_tokens",
      ],
      ["huge body", { method: "POST", body: "x".repeat(200 * 1024) }, 413, null],
      ["wrong method", { method: "GET" }, 405, null],
    ];
    for (const [name, init, status, param] of cases) {
      const result = await send(init.path ?? "/v1/chat/completions", init);
      assert.equal(result.status, status, name);
      assert.equal(result.error.param, param, name);
      assert.equal(typeof result.error.message, "string", name);
    }
    const missing = await send("/v2/anything", { method: "POST", body: "{}" });
    assert.equal(missing.status, 404);
  } finally {
    await server.close();
  }
});
