/**
 * Token sampling (llama.cpp's default chain and defaults) and stop-string matching.
 *
 * @module
 */
export {
  argmax,
  DEFAULT_SAMPLER_PARAMS,
  logSoftmax,
  resolveSamplerParams,
  Sampler,
  SamplerParamError,
  type SamplerParams,
  topLogprobs,
} from "./sampler.ts";
export { StopMatcher } from "./stop.ts";
export { Rng } from "./rng.ts";
