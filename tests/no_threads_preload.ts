/**
 * Preload for tests: removes `Worker` and `SharedArrayBuffer`, as on hosts that lack
 * them (browsers without cross-origin isolation, some edge runtimes).
 */
const global = globalThis as Record<string, unknown>;
delete global.Worker;
delete global.SharedArrayBuffer;
