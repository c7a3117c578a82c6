/**
 * OpenAI-compatible HTTP handler.
 *
 * @module
 */
export {};
