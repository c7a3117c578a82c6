import assert from "node:assert/strict";
import { commandHelp, parseCommand, UsageError } from "./options.ts";

Deno.test("llama.cpp option spellings", () => {
  const { options, positionals } = parseCommand("complete", [
    "--n-predict",
    "-1",
    "--temp=0.5",
    "hello",
  ]);
  assert.equal(options["max-tokens"], "-1");
  assert.equal(options.temperature, "0.5");
  assert.equal(options["n-predict"], undefined);
  assert.equal(options.temp, undefined);
  assert.deepEqual(positionals, ["hello"]);

  // The flint spellings still work, and the help lists both.
  assert.equal(parseCommand("chat", ["--temperature", "-0.5"]).options.temperature, "-0.5");
  assert.match(commandHelp("complete"), /--max-tokens, --n-predict <tokens>/);
  assert.match(commandHelp("chat"), /--temperature, --temp <number>/);

  // An alias is not a prefix match, and after `--` nothing is rewritten.
  assert.throws(() => parseCommand("complete", ["--tem", "1"]), UsageError);
  assert.deepEqual(parseCommand("complete", ["--", "--temp"]).positionals, ["--temp"]);
});
