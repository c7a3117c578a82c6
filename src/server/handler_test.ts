import assert from "node:assert/strict";
import { FakeModel } from "../../tests/fake_model.ts";
import { createHandler, defaultModelId } from "./handler.ts";
import type { HandlerOptions } from "./types.ts";

const BASE = "http://flint.test";

function post(path: string, body: unknown, init: RequestInit = {}): Request {
  return new Request(BASE + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...init.headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: init.signal,
  });
}

function handlerFor(model = new FakeModel(), options: Partial<HandlerOptions> = {}) {
  return createHandler({ model, ...options });
}

/** Splits an SSE body into its events' data fields, checking the framing as it goes. */
function sseEvents(text: string): string[] {
  assert.ok(text.endsWith("\n\n"), `stream must end with a blank line: ${JSON.stringify(text)}`);
  const events = text.slice(0, -2).split("\n\n");
  return events.map((event) => {
    assert.ok(event.startsWith("data: "), `event must start with 'data: ': ${event}`);
    assert.ok(!event.includes("\n"), `event must be one line: ${event}`);
    return event.slice("data: ".length);
  });
}

Deno.test("chat completion non-streamed has OpenAI shape", async () => {
  const handle = handlerFor();
  const response = await handle(post("/v1/chat/completions", {
    model: "fake-model",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 5,
    temperature: 0,
  }));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const json = await response.json();
  assert.match(json.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(json.object, "chat.completion");
  assert.equal(json.model, "fake-model");
  assert.equal(typeof json.created, "number");
  assert.equal(json.choices.length, 1);
  assert.equal(json.choices[0].index, 0);
  assert.equal(json.choices[0].message.role, "assistant");
  assert.equal(json.choices[0].message.content.length, 5);
  assert.equal(json.choices[0].finish_reason, "length");
  assert.equal(json.choices[0].logprobs, null);
  const promptTokens = new TextEncoder().encode("<user>hi<assistant>").length + 1;
  assert.deepEqual(json.usage, {
    prompt_tokens: promptTokens,
    completion_tokens: 5,
    total_tokens: promptTokens + 5,
  });
});

Deno.test("chat completion stream framing byte by byte", async () => {
  const handle = handlerFor();
  const response = await handle(post("/v1/chat/completions", {
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 3,
    temperature: 0,
    stream: true,
  }));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-cache");
  const text = await response.text();
  const data = sseEvents(text);
  assert.equal(data.at(-1), "[DONE]");
  assert.ok(text.endsWith("}\n\ndata: [DONE]\n\n"));
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  // Role first, then one chunk per token, then the finish chunk.
  assert.equal(chunks.length, 1 + 3 + 1);
  const id = chunks[0].id;
  for (const chunk of chunks) {
    assert.deepEqual(Object.keys(chunk), ["id", "object", "created", "model", "choices"]);
    assert.equal(chunk.id, id);
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.equal(chunk.created, chunks[0].created);
  }
  assert.deepEqual(chunks[0].choices, [{
    index: 0,
    delta: { role: "assistant", content: "" },
    logprobs: null,
    finish_reason: null,
  }]);
  for (const chunk of chunks.slice(1, -1)) {
    assert.equal(chunk.choices[0].finish_reason, null);
    assert.equal(typeof chunk.choices[0].delta.content, "string");
    assert.equal(chunk.choices[0].delta.role, undefined);
  }
  assert.deepEqual(chunks.at(-1).choices, [{
    index: 0,
    delta: {},
    logprobs: null,
    finish_reason: "length",
  }]);
  // The exact bytes of the first event, apart from the id and timestamp.
  const first = text.slice(0, text.indexOf("\n\n") + 2);
  assert.equal(
    first.replace(/chatcmpl-[0-9a-f]+/, "ID").replace(/"created":\d+/, '"created":T'),
    'data: {"id":"ID","object":"chat.completion.chunk","created":T,"model":"fake-model",' +
      '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,' +
      '"finish_reason":null}]}\n\n',
  );
});

Deno.test("chat stream include_usage adds usage chunk", async () => {
  const handle = handlerFor();
  const response = await handle(post("/v1/chat/completions", {
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 2,
    stream: true,
    stream_options: { include_usage: true },
  }));
  const data = sseEvents(await response.text());
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 2);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 2);
});

Deno.test("chat streamed text equals non-streamed at temperature 0", async () => {
  const handle = handlerFor();
  const request = {
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: "tell" }],
    max_tokens: 20,
    temperature: 0,
  };
  const plain = await (await handle(post("/v1/chat/completions", request))).json();
  const streamed = await (await handle(
    post("/v1/chat/completions", { ...request, stream: true }),
  )).text();
  const text = sseEvents(streamed).slice(0, -1).map((d) => JSON.parse(d))
    .map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, plain.choices[0].message.content);
  assert.equal(text.length, 20);
});

Deno.test("stop strings end chat with finish_reason stop", async () => {
  const handle = handlerFor();
  const base = { messages: [{ role: "user", content: "x" }], max_tokens: 30, temperature: 0 };
  const full = (await (await handle(post("/v1/chat/completions", base))).json())
    .choices[0].message.content as string;
  const stop = full.slice(10, 12);
  const cut = await (await handle(post("/v1/chat/completions", { ...base, stop }))).json();
  assert.equal(cut.choices[0].finish_reason, "stop");
  assert.equal(cut.choices[0].message.content, full.slice(0, full.indexOf(stop)));
});

Deno.test("completions accept string and token id prompts", async () => {
  const handle = handlerFor();
  const byText = await (await handle(post("/v1/completions", {
    model: "fake-model",
    prompt: "abc",
    max_tokens: 6,
    temperature: 0,
  }))).json();
  assert.equal(byText.object, "text_completion");
  assert.match(byText.id, /^cmpl-/);
  assert.equal(byText.choices[0].text.length, 6);
  assert.equal(byText.choices[0].finish_reason, "length");
  assert.equal(byText.usage.prompt_tokens, 4);
  // The same tokens as ids (BOS first) give the same text.
  const byIds = await (await handle(post("/v1/completions", {
    prompt: [256, 97, 98, 99],
    max_tokens: 6,
    temperature: 0,
  }))).json();
  assert.equal(byIds.choices[0].text, byText.choices[0].text);
});

Deno.test("completions stream framing and text", async () => {
  const handle = handlerFor();
  const request = { prompt: "abc", max_tokens: 4, temperature: 0 };
  const plain = await (await handle(post("/v1/completions", request))).json();
  const response = await handle(post("/v1/completions", { ...request, stream: true }));
  const data = sseEvents(await response.text());
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  for (const chunk of chunks) {
    assert.equal(chunk.object, "text_completion");
    assert.deepEqual(Object.keys(chunk.choices[0]), ["text", "index", "logprobs", "finish_reason"]);
  }
  assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
  assert.equal(chunks.map((c) => c.choices[0].text).join(""), plain.choices[0].text);
});

Deno.test("chat logprobs on request", async () => {
  const handle = handlerFor();
  const json = await (await handle(post("/v1/chat/completions", {
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 3,
    logprobs: true,
    top_logprobs: 2,
  }))).json();
  const content = json.choices[0].logprobs.content;
  assert.equal(content.length, 3);
  for (const entry of content) {
    assert.equal(typeof entry.token, "string");
    assert.equal(entry.logprob, -0.5);
    assert.deepEqual(entry.bytes, Array.from(new TextEncoder().encode(entry.token)));
    assert.equal(entry.top_logprobs.length, 2);
    assert.deepEqual(entry.top_logprobs[0], { token: "a", logprob: -1, bytes: [97] });
  }
});

Deno.test("completions logprobs on request", async () => {
  const handle = handlerFor();
  const json = await (await handle(post("/v1/completions", {
    prompt: "hi",
    max_tokens: 3,
    logprobs: 1,
  }))).json();
  const logprobs = json.choices[0].logprobs;
  assert.equal(logprobs.tokens.join(""), json.choices[0].text);
  assert.deepEqual(logprobs.token_logprobs, [-0.5, -0.5, -0.5]);
  assert.deepEqual(logprobs.top_logprobs, [{ a: -1 }, { a: -1 }, { a: -1 }]);
  assert.deepEqual(logprobs.text_offset, [0, 1, 2]);
});

Deno.test("native /completion streams content and stop", async () => {
  const handle = handlerFor();
  const plain = await (await handle(post("/completion", {
    prompt: "abc",
    n_predict: 4,
    temperature: 0,
  }))).json();
  assert.equal(plain.stop, true);
  assert.equal(plain.content.length, 4);
  assert.equal(plain.tokens_predicted, 4);
  assert.equal(plain.tokens_evaluated, 4);
  assert.equal(plain.stop_type, "limit");
  assert.equal(plain.timings.predicted_n, 4);
  const text = await (await handle(post("/completion", {
    prompt: "abc",
    n_predict: 4,
    temperature: 0,
    stream: true,
  }))).text();
  const events = sseEvents(text).map((d) => JSON.parse(d));
  assert.ok(!text.includes("[DONE]"));
  const partial = events.filter((e) => !e.stop);
  assert.equal(partial.length, 4);
  for (const e of partial) {
    assert.equal(e.content.length, 1);
    assert.equal(e.tokens.length, 1);
  }
  const last = events.at(-1);
  assert.equal(last.stop, true);
  assert.equal(last.content, "");
  assert.equal(last.stop_type, "limit");
  assert.equal(typeof last.timings.predicted_per_second, "number");
  assert.equal(partial.map((e) => e.content).join(""), plain.content);
});

Deno.test("tokenize and detokenize round trip", async () => {
  const handle = handlerFor();
  const tokens = await (await handle(post("/tokenize", { content: "hé", add_special: true })))
    .json();
  assert.deepEqual(tokens, { tokens: [256, 104, 195, 169] });
  const pieces = await (await handle(post("/tokenize", { content: "h", with_pieces: true })))
    .json();
  assert.deepEqual(pieces, { tokens: [{ id: 104, piece: "h" }] });
  const text = await (await handle(post("/detokenize", { tokens: [104, 195, 169] }))).json();
  assert.deepEqual(text, { content: "hé" });
});

Deno.test("health and models routes", async () => {
  const handle = handlerFor(new FakeModel(), { modelId: "my-model", slots: 2 });
  const health = await (await handle(new Request(BASE + "/health"))).json();
  assert.deepEqual(health, {
    status: "ok",
    slots_idle: 2,
    slots_processing: 0,
    requests_queued: 0,
  });
  const models = await (await handle(new Request(BASE + "/v1/models"))).json();
  assert.equal(models.object, "list");
  assert.equal(models.data[0].id, "my-model");
  assert.equal(models.data[0].object, "model");
  const one = await handle(new Request(BASE + "/v1/models/my-model"));
  assert.equal(one.status, 200);
  const missing = await handle(new Request(BASE + "/v1/models/other"));
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "model_not_found");
});

Deno.test("model id defaults to the file name; other models get 404", async () => {
  const model = Object.assign(new FakeModel(), { file: { source: "/models/stories260K.gguf" } });
  const handle = handlerFor(model);
  const models = await (await handle(new Request(BASE + "/v1/models"))).json();
  assert.deepEqual(models.data.map((m: { id: string }) => m.id), ["stories260K"]);
  const response = await handle(post("/v1/chat/completions", {
    model: "gpt-4o",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 2,
  }));
  assert.equal(response.status, 404);
  const error = (await response.json()).error;
  assert.equal(error.code, "model_not_found");
  assert.match(error.message, /gpt-4o/);
  const served = await handle(post("/v1/chat/completions", {
    model: "stories260K",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 2,
  }));
  assert.equal(served.status, 200);
  assert.equal((await served.json()).model, "stories260K");
  const badType = await handle(post("/v1/completions", { model: 4, prompt: "x" }));
  assert.equal(badType.status, 400);
  assert.equal((await badType.json()).error.param, "model");

  assert.equal(defaultModelId(model), "stories260K");
  const url = { name: "llama", file: { source: "https://h.example/a/WizardLM.Q4_K_M.gguf?x=1" } };
  assert.equal(defaultModelId(url as unknown as FakeModel), "WizardLM.Q4_K_M");
  const bytes = { name: "llama", file: { source: "<bytes>" } };
  assert.equal(defaultModelId(bytes as unknown as FakeModel), "llama");
  assert.equal(defaultModelId(new FakeModel()), "fake-model");
});

Deno.test("favicon answers 204 and logs at debug level", async () => {
  const lines: string[] = [];
  const logger = {
    debug: (m: string) => lines.push(`debug ${m}`),
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  };
  const response = await handlerFor(new FakeModel(), { logger, apiKey: "k" })(
    new Request(BASE + "/favicon.ico"),
  );
  assert.equal(response.status, 204);
  assert.equal(response.body, null);
  assert.deepEqual(lines.map((l) => l.split(" ").slice(0, 4).join(" ")), [
    "debug GET /favicon.ico 204",
  ]);
});

Deno.test("chat page is self-contained HTML", async () => {
  const response = await handlerFor()(new Request(BASE + "/"));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/html/);
  const html = await response.text();
  assert.ok(html.includes("/v1/chat/completions"));
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), "page must not load remote resources");
});

interface BadCase {
  name: string;
  request: () => Request;
  status: number;
  param?: string | null;
  /** Text the message must contain, such as the rejected value. */
  mentions?: string;
}

const chatBody = { messages: [{ role: "user", content: "hi" }] };
const BAD_REQUESTS: BadCase[] = [
  {
    name: "invalid JSON",
    request: () => post("/v1/chat/completions", "{not json"),
    status: 400,
    mentions: "invalid JSON",
  },
  {
    name: "array body",
    request: () => post("/v1/chat/completions", "[1]"),
    status: 400,
    mentions: "an array",
  },
  {
    name: "invalid UTF-8",
    request: () =>
      new Request(BASE + "/v1/completions", {
        method: "POST",
        body: new Uint8Array([0x7b, 0xff, 0x7d]),
      }),
    status: 400,
    mentions: "UTF-8",
  },
  {
    name: "missing messages",
    request: () => post("/v1/chat/completions", {}),
    status: 400,
    param: "messages",
  },
  {
    name: "messages not an array",
    request: () => post("/v1/chat/completions", { messages: "hi" }),
    status: 400,
    param: "messages",
    mentions: '"hi"',
  },
  {
    name: "unknown role",
    request: () => post("/v1/chat/completions", { messages: [{ role: "robot", content: "x" }] }),
    status: 400,
    param: "messages[0].role",
    mentions: '"robot"',
  },
  {
    name: "content of wrong type",
    request: () => post("/v1/chat/completions", { messages: [{ role: "user", content: 5 }] }),
    status: 400,
    param: "messages[0].content",
  },
  {
    name: "temperature a string",
    request: () => post("/v1/chat/completions", { ...chatBody, temperature: "hot" }),
    status: 400,
    param: "temperature",
    mentions: '"hot"',
  },
  {
    name: "negative max_tokens",
    request: () => post("/v1/chat/completions", { ...chatBody, max_tokens: -1 }),
    status: 400,
    param: "max_tokens",
    mentions: "-1",
  },
  {
    name: "fractional max_tokens",
    request: () => post("/v1/completions", { prompt: "x", max_tokens: 1.5 }),
    status: 400,
    param: "max_tokens",
  },
  {
    name: "top_p above 1",
    request: () => post("/v1/chat/completions", { ...chatBody, top_p: 1.5 }),
    status: 400,
    param: "top_p",
  },
  {
    name: "n of 2",
    request: () => post("/v1/chat/completions", { ...chatBody, n: 2 }),
    status: 400,
    param: "n",
  },
  {
    name: "stop with a number",
    request: () => post("/v1/chat/completions", { ...chatBody, stop: ["a", 3] }),
    status: 400,
    param: "stop",
  },
  {
    name: "stream a string",
    request: () => post("/v1/chat/completions", { ...chatBody, stream: "yes" }),
    status: 400,
    param: "stream",
  },
  {
    name: "stream_options without stream",
    request: () =>
      post("/v1/chat/completions", { ...chatBody, stream_options: { include_usage: true } }),
    status: 400,
    param: "stream_options",
  },
  {
    name: "logit_bias token out of range",
    request: () => post("/v1/chat/completions", { ...chatBody, logit_bias: { "999": 5 } }),
    status: 400,
    param: "logit_bias",
    mentions: "999",
  },
  {
    name: "logit_bias value out of range",
    request: () => post("/v1/chat/completions", { ...chatBody, logit_bias: { "5": 500 } }),
    status: 400,
    param: "logit_bias.5",
  },
  {
    name: "top_logprobs without logprobs",
    request: () => post("/v1/chat/completions", { ...chatBody, top_logprobs: 2 }),
    status: 400,
    param: "top_logprobs",
  },
  {
    name: "tools requested",
    request: () =>
      post("/v1/chat/completions", { ...chatBody, tools: [{ type: "function", function: {} }] }),
    status: 400,
    param: "tools",
  },
  {
    name: "unknown model",
    request: () => post("/v1/chat/completions", { ...chatBody, model: "gpt-4o" }),
    status: 404,
    param: "model",
    mentions: "gpt-4o",
  },
  {
    name: "model not a string",
    request: () => post("/v1/completions", { prompt: "x", model: 7 }),
    status: 400,
    param: "model",
  },
  {
    name: "prompt missing",
    request: () => post("/v1/completions", {}),
    status: 400,
    param: "prompt",
  },
  {
    name: "prompt with bad token id",
    request: () => post("/v1/completions", { prompt: [1, -2] }),
    status: 400,
    param: "prompt",
    mentions: "-2",
  },
  {
    name: "two prompts",
    request: () => post("/v1/completions", { prompt: ["a", "b"] }),
    status: 400,
    param: "prompt",
  },
  {
    name: "echo",
    request: () => post("/v1/completions", { prompt: "a", echo: true }),
    status: 400,
    param: "echo",
  },
  {
    name: "prompt longer than the context",
    request: () => post("/v1/completions", { prompt: "x".repeat(300) }),
    status: 400,
    mentions: "context",
  },
  {
    name: "native n_predict below -1",
    request: () => post("/completion", { prompt: "a", n_predict: -5 }),
    status: 400,
    param: "n_predict",
  },
  {
    name: "tokenize without content",
    request: () => post("/tokenize", { text: "a" }),
    status: 400,
    param: "content",
  },
  {
    name: "detokenize with strings",
    request: () => post("/detokenize", { tokens: ["a"] }),
    status: 400,
    param: "tokens",
  },
  {
    name: "unknown route",
    request: () => post("/v1/embeddings", {}),
    status: 404,
  },
  {
    name: "wrong method",
    request: () => new Request(BASE + "/v1/chat/completions"),
    status: 405,
  },
  {
    name: "POST to a GET route",
    request: () => post("/v1/models", {}),
    status: 405,
  },
  {
    name: "body over the limit",
    request: () => post("/v1/chat/completions", { ...chatBody, pad: "x".repeat(5 << 20) }),
    status: 413,
  },
];

for (const bad of BAD_REQUESTS) {
  Deno.test(`rejects ${bad.name}`, async () => {
    const model = new FakeModel();
    const response = await handlerFor(model)(bad.request());
    assert.equal(response.status, bad.status);
    const json = await response.json();
    assert.deepEqual(Object.keys(json.error).sort(), ["code", "message", "param", "type"]);
    assert.equal(typeof json.error.message, "string");
    if (bad.param !== undefined) assert.equal(json.error.param, bad.param);
    if (bad.mentions) assert.ok(json.error.message.includes(bad.mentions), json.error.message);
    assert.equal(model.active, 0);
  });
}

Deno.test("body over the limit without Content-Length", async () => {
  const handle = handlerFor(new FakeModel(), { maxBodyBytes: 1000 });
  const chunk = new TextEncoder().encode(" ".repeat(400));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      sent++;
      if (sent > 100) controller.close();
      else controller.enqueue(chunk);
    },
  });
  const response = await handle(
    new Request(BASE + "/v1/completions", { method: "POST", body }),
  );
  assert.equal(response.status, 413);
  assert.equal((await response.json()).error.code, "request_too_large");
  assert.ok(sent < 10, `read ${sent} chunks after passing the limit`);
});

Deno.test("api key required when set", async () => {
  const handle = handlerFor(new FakeModel(), { apiKey: "s3cret" });
  const body = { prompt: "a", max_tokens: 1 };
  const none = await handle(post("/v1/completions", body));
  assert.equal(none.status, 401);
  assert.equal((await none.json()).error.code, "invalid_api_key");
  const wrong = await handle(post("/v1/completions", body, {
    headers: { authorization: "Bearer nope" },
  }));
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const right = await handle(post("/v1/completions", body, {
    headers: { authorization: "Bearer s3cret" },
  }));
  assert.equal(right.status, 200);
  await right.body?.cancel();
  const health = await handle(new Request(BASE + "/health"));
  assert.equal(health.status, 200);
  await health.body?.cancel();
});

Deno.test("cors preflight and origin list", async () => {
  const open = handlerFor();
  const preflight = await open(
    new Request(BASE + "/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin: "http://app.test", "access-control-request-method": "POST" },
    }),
  );
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);

  const listed = handlerFor(new FakeModel(), { cors: ["http://app.test"] });
  const allowed = await listed(
    new Request(BASE + "/health", {
      headers: { origin: "http://app.test" },
    }),
  );
  assert.equal(allowed.headers.get("access-control-allow-origin"), "http://app.test");
  const other = await listed(
    new Request(BASE + "/health", {
      headers: { origin: "http://evil.test" },
    }),
  );
  assert.equal(other.headers.get("access-control-allow-origin"), null);

  const closed = handlerFor(new FakeModel(), { cors: false });
  const none = await closed(new Request(BASE + "/health"));
  assert.equal(none.headers.get("access-control-allow-origin"), null);
});

Deno.test("full queue answers 503 with Retry-After", async () => {
  const model = new FakeModel({ tokenDelayMs: 5 });
  const handle = handlerFor(model, { slots: 1, queueSize: 1, retryAfterSeconds: 3 });
  const body = { prompt: "a", max_tokens: 50, stream: true };
  const running = await handle(post("/v1/completions", body));
  const queued = handle(post("/v1/completions", body));
  const rejected = await handle(post("/v1/completions", body));
  assert.equal(rejected.status, 503);
  assert.equal(rejected.headers.get("retry-after"), "3");
  assert.equal((await rejected.json()).error.code, "queue_full");
  await running.body?.cancel();
  const second = await queued;
  assert.equal(second.status, 200);
  await second.body?.cancel();
});

Deno.test("client abort stops generation and frees slot", async () => {
  const model = new FakeModel({ tokenDelayMs: 2 });
  const handle = handlerFor(model, { slots: 1, queueSize: 4 });
  const controller = new AbortController();
  const response = await handle(post("/v1/chat/completions", {
    ...chatBody,
    max_tokens: 100,
    stream: true,
  }, { signal: controller.signal }));
  const reader = response.body!.getReader();
  await reader.read();
  await reader.read();
  controller.abort();
  await reader.cancel();
  const producedAtAbort = model.tokensProduced;
  assert.ok(producedAtAbort < 100);
  // The slot is free: another request runs to completion.
  const next = await (await handle(post("/v1/completions", { prompt: "z", max_tokens: 3 })))
    .json();
  assert.equal(next.usage.completion_tokens, 3);
  assert.equal(model.active, 0);
  assert.ok(model.tokensProduced <= producedAtAbort + 1 + 3);
  assert.equal(model.sessions.length, 1);
});

Deno.test("aborting a queued request removes it", async () => {
  const model = new FakeModel({ tokenDelayMs: 2 });
  const handle = handlerFor(model, { slots: 1, queueSize: 1 });
  const running = await handle(
    post("/v1/completions", { prompt: "a", max_tokens: 40, stream: true }),
  );
  const controller = new AbortController();
  const queued = handle(post("/v1/completions", { prompt: "b" }, { signal: controller.signal }));
  controller.abort();
  await queued;
  // The queue place is free again, so this request waits instead of getting 503.
  const next = handle(post("/v1/completions", { prompt: "c", max_tokens: 2 }));
  await running.body?.cancel();
  assert.equal((await next).status, 200);
  await (await next).body?.cancel();
});

Deno.test("error after streaming began is sent as event", async () => {
  const model = new FakeModel({ failAfter: { tokens: 2, error: new Error("kernel fault") } });
  const logged: string[] = [];
  const handle = handlerFor(model, {
    logger: {
      debug() {},
      info() {},
      warn() {},
      error: (m) => logged.push(m),
    },
  });
  const response = await handle(post("/v1/chat/completions", { ...chatBody, stream: true }));
  assert.equal(response.status, 200);
  const data = sseEvents(await response.text());
  assert.notEqual(data.at(-1), "[DONE]");
  const last = JSON.parse(data.at(-1)!);
  assert.equal(last.error.type, "server_error");
  assert.equal(last.error.code, "generation_failed");
  assert.ok(!last.error.message.includes("kernel fault"), "internal details stay in the log");
  assert.ok(logged.some((m) => m.includes("kernel fault")));
  assert.equal(model.active, 0);
});

Deno.test("request log line has tokens and rate", async () => {
  const lines: string[] = [];
  const handle = handlerFor(new FakeModel(), {
    logger: { debug() {}, info: (m) => lines.push(m), warn: (m) => lines.push(m), error() {} },
  });
  await (await handle(post("/v1/completions", { prompt: "ab", max_tokens: 3 }))).text();
  await (await handle(post("/v1/completions", { prompt: "ab", max_tokens: 3, stream: true })))
    .text();
  await (await handle(post("/v1/completions", { prompt: 5 }))).text();
  assert.match(lines[0], /^POST \/v1\/completions 200 in=3 out=3 [\d.]+ tok\/s \d+ ms$/);
  assert.match(lines[1], /^POST \/v1\/completions 200 in=3 out=3 [\d.]+ tok\/s \d+ ms$/);
  assert.equal(lines.length, 3);
  assert.match(lines[2], /^POST \/v1\/completions 400 \d+ ms error: invalid value for 'prompt'/);
});
