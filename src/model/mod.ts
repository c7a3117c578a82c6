/**
 * Llama-family models: hyperparameters, weight loading and the forward pass.
 *
 * @module
 */
export { ContextError, ModelError, type ModelErrorContext } from "./errors.ts";
export { type ActivationHook, LlamaForward, type LogitsMode, type MatmulOrder } from "./forward.ts";
export { type LlamaHparams, readLlamaHparams, SUPPORTED_ARCHS } from "./hparams.ts";
export { allocKvCache, type CacheType, type KvCache, kvCacheBytes } from "./kv_cache.ts";
export { DEFAULT_MAX_CTX, loadModel, type Logger, Model, type ModelOptions } from "./model.ts";
export { type LayerWeights, type LlamaWeights, planWeights, type Weight } from "./weights.ts";
