/**
 * The chat page served at `GET /`: one self-contained HTML document (no external
 * scripts, styles or fonts) that streams replies from `/v1/chat/completions` with
 * `fetch` and parses the SSE events itself. Assistant messages carry `data-chunks`
 * (content events received), `data-done` and `data-finish` (the finish reason) for
 * scripted checks. An empty max tokens field leaves the limit to the context size.
 */
export const CHAT_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flint chat</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; gap: .75rem; align-items: center; padding: .5rem 1rem;
    border-bottom: 1px solid #8884; flex-wrap: wrap; }
  header h1 { font-size: 1rem; margin: 0 auto 0 0; }
  header label { font-size: .8rem; display: flex; gap: .3rem; align-items: center; }
  header input { width: 5rem; }
  #log { flex: 1; overflow-y: auto; padding: 1rem; display: flex; flex-direction: column;
    gap: .75rem; }
  .msg { max-width: 48rem; white-space: pre-wrap; padding: .5rem .75rem; border-radius: .5rem;
    line-height: 1.4; }
  .user { align-self: flex-end; background: #3b82f633; }
  .assistant { align-self: flex-start; background: #8882; }
  .error { align-self: flex-start; background: #ef444433; }
  .assistant[data-finish="length"]::after { content: " [cut off: token limit reached]";
    opacity: .6; font-size: .8rem; }
  #status { font-size: .75rem; opacity: .7; padding: 0 1rem; min-height: 1.2em; }
  form { display: flex; gap: .5rem; padding: .75rem 1rem; border-top: 1px solid #8884; }
  textarea { flex: 1; resize: vertical; min-height: 2.5rem; font: inherit; padding: .4rem; }
  button { font: inherit; padding: .4rem .9rem; }
</style>
</head>
<body>
<header>
  <h1>flint chat</h1>
  <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.8"></label>
  <label>max tokens <input id="max-tokens" type="number" min="1" step="1" placeholder="no limit"></label>
  <label>API key <input id="api-key" type="password" autocomplete="off"></label>
  <button id="reset" type="button">New chat</button>
</header>
<main id="log" aria-live="polite"></main>
<div id="status"></div>
<form id="form">
  <textarea id="input" rows="2" placeholder="Message (Enter sends, Shift+Enter adds a line)"></textarea>
  <button id="send" type="submit">Send</button>
  <button id="stop" type="button" disabled>Stop</button>
</form>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log"), input = $("input"), send = $("send"), stop = $("stop"), status = $("status");
const apiKey = $("api-key");
apiKey.value = localStorage.getItem("flint-api-key") || "";
apiKey.addEventListener("change", () => localStorage.setItem("flint-api-key", apiKey.value));
let history = [];
let controller = null;

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  log.append(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

function setBusy(busy) {
  send.disabled = busy;
  stop.disabled = !busy;
}

// Yields the data field of each SSE event as it arrives.
async function* sseData(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, "")).join("\\n");
      if (data) yield data;
    }
  }
}

async function ask(text) {
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const bubble = addMessage("assistant", "");
  bubble.dataset.chunks = "0";
  controller = new AbortController();
  setBusy(true);
  status.textContent = "waiting for a slot…";
  const started = performance.now();
  let reply = "", usage = null;
  try {
    const headers = { "content-type": "application/json" };
    if (apiKey.value) headers.authorization = "Bearer " + apiKey.value;
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers,
      signal: controller.signal,
      body: JSON.stringify({
        messages: history,
        stream: true,
        stream_options: { include_usage: true },
        temperature: Number($("temperature").value),
        ...($("max-tokens").value ? { max_tokens: Number($("max-tokens").value) } : {}),
      }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message ?? "HTTP " + response.status);
    }
    status.textContent = "generating…";
    for await (const data of sseData(response.body)) {
      if (data === "[DONE]") break;
      const event = JSON.parse(data);
      if (event.error) throw new Error(event.error.message);
      if (event.usage) usage = event.usage;
      const finish = event.choices?.[0]?.finish_reason;
      if (finish) bubble.dataset.finish = finish;
      const delta = event.choices?.[0]?.delta?.content;
      if (delta) {
        reply += delta;
        bubble.textContent = reply;
        bubble.dataset.chunks = String(Number(bubble.dataset.chunks) + 1);
        log.scrollTop = log.scrollHeight;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    status.textContent = usage
      ? usage.completion_tokens + " tokens in " + seconds.toFixed(1) + " s (" +
        (usage.completion_tokens / seconds).toFixed(1) + " tok/s)"
      : "";
  } catch (error) {
    if (error.name === "AbortError") {
      status.textContent = "stopped";
    } else {
      addMessage("error", String(error.message || error) +
        (/context/.test(error.message) ? " (press New chat or send a shorter message)" : ""));
      status.textContent = "";
    }
  } finally {
    if (reply === "" && bubble.dataset.finish === undefined) {
      // Nothing came back: drop the empty bubble and the message that got no answer.
      bubble.remove();
      history.pop();
    } else {
      history.push({ role: "assistant", content: reply });
    }
    bubble.dataset.done = "true";
    controller = null;
    setBusy(false);
    input.focus();
  }
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || controller) return;
  input.value = "";
  ask(text);
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("form").requestSubmit();
  }
});
stop.addEventListener("click", () => controller?.abort());
$("reset").addEventListener("click", () => {
  controller?.abort();
  history = [];
  log.replaceChildren();
  status.textContent = "";
});
</script>
</body>
</html>
`;
