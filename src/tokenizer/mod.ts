/**
 * Tokenizers built from a GGUF's `tokenizer.ggml.*` metadata, producing the ids llama.cpp
 * produces: SentencePiece-style BPE (`tokenizer.ggml.model` "llama") and byte-level BPE
 * ("gpt2") with the pre-tokenizer named by `tokenizer.ggml.pre`.
 *
 * @module
 */
export { TokenizerError } from "./errors.ts";
export {
  createTokenizer,
  type CreateTokenizerOptions,
  type DecodeOptions,
  type EncodeOptions,
  type IncrementalDecoder,
  type PromptPart,
  type Tokenizer,
} from "./tokenizer.ts";
export {
  PRE_TOKENIZERS,
  type TokenizerLogger,
  type TokenizerSource,
  type VocabType,
} from "./vocab.ts";
