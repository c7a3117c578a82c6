import assert from "node:assert/strict";
import { StopMatcher } from "./stop.ts";

function feed(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const out = pieces.map((p) => m.push(p));
  return { out, stopped: m.stopped, rest: m.flush() };
}

Deno.test("StopMatcher passes text through without stops", () => {
  assert.deepEqual(feed([], ["a", "b"]).out, ["a", "b"]);
});

Deno.test("StopMatcher releases text before a stop in the same piece", () => {
  const r = feed(["END"], ["hello", " worldEND tail"]);
  assert.deepEqual(r.out, ["hello", " world"]);
  assert.equal(r.stopped, true);
  assert.equal(r.rest, "");
});

Deno.test("StopMatcher holds a partial match across pieces", () => {
  const r = feed(["</s>"], ["Hi <", "/", "s>", "more"]);
  assert.deepEqual(r.out, ["Hi ", "", "", ""]);
  assert.equal(r.stopped, true);
});

Deno.test("StopMatcher releases a partial match that fails", () => {
  const r = feed(["stop"], ["a st", "ar"]);
  assert.deepEqual(r.out, ["a ", "star"]);
  assert.equal(r.stopped, false);
});

Deno.test("StopMatcher flushes held text at the end", () => {
  const r = feed(["\n\n"], ["line\n"]);
  assert.deepEqual(r.out, ["line"]);
  assert.equal(r.rest, "\n");
});

Deno.test("StopMatcher takes the earliest of several stops", () => {
  const r = feed(["cd", "abc"], ["xabcd"]);
  assert.deepEqual(r.out, ["x"]);
});

Deno.test("StopMatcher never emits a stop byte", () => {
  const stops = ["###", "User:"];
  const text = "one # two ## three Use User:after";
  for (let size = 1; size <= 4; size++) {
    const pieces = [];
    for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
    const r = feed(stops, pieces);
    assert.equal(r.out.join("") + r.rest, "one # two ## three Use ");
    assert.equal(r.stopped, true);
  }
});
