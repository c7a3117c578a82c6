import assert from "node:assert/strict";
import type { GgufValue } from "../gguf/mod.ts";
import { createTokenizer, type TokenizerSource } from "../tokenizer/mod.ts";
import { applyChatTemplate, ChatTemplateError, chooseChatTemplate } from "./mod.ts";

function fakeGguf(metadata: Record<string, GgufValue>): TokenizerSource {
  return { source: "fake.gguf", metadata: new Map(Object.entries(metadata)) };
}

/** Builds a tiny SPM vocabulary of single characters plus ChatML markers. */
function tinyVocab(extra: Record<string, GgufValue> = {}): TokenizerSource {
  const tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"];
  const types = [2, 3, 3, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  for (const c of "▁abcdefghijklmnopqrstuvwxyz:\n") {
    tokens.push(c);
    types.push(1);
  }
  return fakeGguf({
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.scores": new Float32Array(tokens.length),
    "tokenizer.ggml.token_type": Int32Array.from(types),
    ...extra,
  });
}

Deno.test("chooseChatTemplate prefers the GGUF template", () => {
  const file = tinyVocab({
    "tokenizer.chat_template": "{{ messages[0].content }}",
    "general.name": "WizardLM-2-7B",
  });
  const messages: string[] = [];
  const choice = chooseChatTemplate(file, { logger: { info: (m) => messages.push(m) } });
  assert.equal(choice.name, "gguf");
  assert.deepEqual(choice.template, { kind: "jinja", source: "{{ messages[0].content }}" });
  assert.equal(messages.length, 1);
  assert.match(messages[0], /gguf/);
});

Deno.test("chooseChatTemplate picks vicuna for WizardLM-2", () => {
  for (
    const [key, value] of [
      ["general.name", "WizardLM-2-7B"],
      ["general.basename", "wizardlm-2"],
      ["general.name", "vicuna-13b-v1.5"],
    ]
  ) {
    const choice = chooseChatTemplate(tinyVocab({ [key]: value }));
    assert.equal(choice.name, "vicuna", `${key}=${value}`);
    assert.match(choice.reason, new RegExp(key));
  }
});

Deno.test("chooseChatTemplate falls back to chatml", () => {
  const logged: string[] = [];
  const choice = chooseChatTemplate(tinyVocab({ "general.name": "llama" }), {
    logger: { info: (m) => logged.push(m) },
  });
  assert.equal(choice.name, "chatml");
  assert.match(logged[0], /chatml/);
});

Deno.test("chooseChatTemplate honours a forced name", () => {
  const file = tinyVocab({ "tokenizer.chat_template": "{{ 'x' }}" });
  assert.equal(chooseChatTemplate(file, { force: "mistral" }).name, "mistral");
  assert.equal(chooseChatTemplate(file, { force: "gguf" }).name, "gguf");
  assert.throws(() => chooseChatTemplate(file, { force: "alpaca" }), ChatTemplateError);
  assert.throws(() => chooseChatTemplate(tinyVocab(), { force: "gguf" }), ChatTemplateError);
});

Deno.test("applyChatTemplate chatml uses marker ids", () => {
  const tokenizer = createTokenizer(tinyVocab());
  const prompt = applyChatTemplate([{ role: "user", content: "hi" }], tokenizer, {
    template: "chatml",
  });
  assert.equal(prompt.text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  const id = (t: string) => tokenizer.tokenId(t)!;
  assert.deepEqual(prompt.tokens.slice(0, 2), [tokenizer.bos, id("<|im_start|>")]);
  assert.equal(prompt.tokens.filter((t) => t === id("<|im_start|>")).length, 2);
  assert.equal(prompt.tokens.filter((t) => t === id("<|im_end|>")).length, 1);
});

Deno.test("applyChatTemplate keeps markers in content plain", () => {
  const tokenizer = createTokenizer(tinyVocab());
  const content = "a<|im_end|>b</s>c<s>";
  for (const template of ["chatml", "vicuna", "mistral", "llama2", "llama3"] as const) {
    const prompt = applyChatTemplate([{ role: "user", content }], tokenizer, { template });
    const markers = prompt.tokens.filter((t) => tokenizer.isControl(t));
    // Only BOS and the template's own markers may be control tokens.
    const expectedMarkers = template === "chatml" ? 4 : 1;
    assert.equal(markers.length, expectedMarkers, template);
    assert.ok(prompt.text.includes(content), template);
  }
});

Deno.test("applyChatTemplate renders Jinja with plain content", () => {
  const source = "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n" +
    "{{ m.content }}<|im_end|>\n{% endfor %}" +
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const tokenizer = createTokenizer(tinyVocab({ "tokenizer.chat_template": source }));
  const messages = [{ role: "user" as const, content: "x<|im_end|>y" }];
  const jinja = applyChatTemplate(messages, tokenizer, {
    template: { kind: "jinja", source },
  });
  const builtin = applyChatTemplate(messages, tokenizer, { template: "chatml" });
  // The template's leading BOS text is dropped because the tokenizer adds BOS.
  assert.equal(jinja.text, builtin.text);
  assert.deepEqual(jinja.tokens, builtin.tokens);
  assert.equal(jinja.template, "jinja");
});

Deno.test("applyChatTemplate handles trimming Jinja templates", () => {
  const source = "{% for m in messages %}<|im_start|>{{ m.content | trim }}<|im_end|>" +
    "{% endfor %}";
  const tokenizer = createTokenizer(tinyVocab());
  const warnings: string[] = [];
  const prompt = applyChatTemplate(
    [{ role: "user", content: "  a</s>  " }],
    tokenizer,
    { template: { kind: "jinja", source }, logger: { warn: (m) => warnings.push(m) } },
  );
  assert.equal(prompt.text, "<|im_start|>a</s><|im_end|>");
  assert.equal(warnings.length, 1);
  assert.ok(!prompt.tokens.includes(tokenizer.eos));
  assert.equal(prompt.tokens.filter((t) => tokenizer.isControl(t)).length, 3);
});

Deno.test("applyChatTemplate reports Jinja errors", () => {
  const tokenizer = createTokenizer(tinyVocab());
  assert.throws(
    () => applyChatTemplate([], tokenizer, { template: { kind: "jinja", source: "{% if %}" } }),
    ChatTemplateError,
  );
  assert.throws(
    () =>
      applyChatTemplate([], tokenizer, {
        template: { kind: "jinja", source: "{{ raise_exception('no system role') }}" },
      }),
    (e: unknown) => e instanceof ChatTemplateError && e.message.includes("no system role"),
  );
});

Deno.test("applyChatTemplate rejects unknown names", () => {
  const tokenizer = createTokenizer(tinyVocab());
  assert.throws(
    // @ts-expect-error: an invalid name from an untyped caller
    () => applyChatTemplate([], tokenizer, { template: "alpaca" }),
    ChatTemplateError,
  );
});
