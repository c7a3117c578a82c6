/**
 * Loads flint's WebAssembly kernels into a shared `WebAssembly.Memory` and hands out
 * aligned regions of it. The same C source is built for wasm32 (up to 4 GiB) and
 * wasm64/memory64 (past 4 GiB); on wasm64 every pointer and `size_t` argument is a
 * BigInt, which `ptr()` hides.
 */

/** Which build of the kernels to load. */
export interface KernelBuild {
  /** `wasm64` (memory64) addresses more than 4 GiB; `wasm32` runs on every engine. */
  target: "wasm32" | "wasm64";
  /** Relaxed SIMD build (faster int8 dots and fused multiply-add). */
  relaxed: boolean;
}

/** Options for `loadKernels`. */
export interface LoadKernelsOptions {
  /** Force a target; default wasm64 when the engine supports memory64, else wasm32. */
  target?: "wasm32" | "wasm64";
  /** Force relaxed SIMD on or off; default on when the engine validates it. */
  relaxed?: boolean;
  /** Initial memory size in bytes (rounded up to 64 KiB pages). Default 16 MiB. */
  initialBytes?: number;
}

const PAGE = 65536;
const ABI_VERSION = 1;

// deno-lint-ignore no-explicit-any
type Exports = Record<string, any>;

/** One instance of the kernel module plus its memory and allocator. */
export class Kernels {
  readonly build: KernelBuild;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly exports: Exports;
  #top: number;

  constructor(
    build: KernelBuild,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    exports: Exports,
  ) {
    this.build = build;
    this.module = module;
    this.memory = memory;
    this.exports = exports;
    this.#top = Number(exports.__heap_base.value);
  }

  /** True on the memory64 build, where pointers are BigInts. */
  get is64(): boolean {
    return this.build.target === "wasm64";
  }

  /** Converts a byte address or size to the type the module's functions take. */
  ptr(value: number): number | bigint {
    return this.is64 ? BigInt(value) : value;
  }

  /** Bytes allocated so far, including the module's own data and stack. */
  get used(): number {
    return this.#top;
  }

  /**
   * Reserves `bytes` bytes aligned to `align` (default 64, a cache line) and returns
   * the address. Grows the memory as needed; memory is never freed, so callers
   * allocate long-lived buffers once.
   */
  alloc(bytes: number, align = 64): number {
    const start = Math.ceil(this.#top / align) * align;
    const end = start + bytes;
    const have = Number(this.memory.buffer.byteLength);
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(this.is64 ? BigInt(pages) as unknown as number : pages);
      } catch (error) {
        throw new RangeError(
          `cannot grow kernel memory to ${end} bytes (${this.build.target} build)`,
          { cause: error },
        );
      }
    }
    this.#top = end;
    return start;
  }

  /** A byte view of `[ptr, ptr + length)`; make a new one after the memory grows. */
  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  /** A float32 view of `n` values at `ptr` (4-byte aligned). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
}

function supportsMemory64(): boolean {
  try {
    new WebAssembly.Memory(
      { initial: 1n, maximum: 2n, address: "i64" } as unknown as WebAssembly.MemoryDescriptor,
    );
    return true;
  } catch {
    return false;
  }
}

async function fetchWasm(target: string, variant: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`../../kernels/flint-${target}-${variant}.wasm`, import.meta.url);
  if (url.protocol === "file:") return await Deno.readFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch kernels from ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Creates the shared memory for a build. */
export function createMemory(
  target: "wasm32" | "wasm64",
  initialBytes: number,
): WebAssembly.Memory {
  const initial = Math.max(32, Math.ceil(initialBytes / PAGE));
  // 16 GiB is V8's memory64 limit; 4 GiB is all wasm32 can address.
  const maximum = target === "wasm64" ? 262144 : 65536;
  const descriptor = target === "wasm64"
    ? { initial: BigInt(initial), maximum: BigInt(maximum), shared: true, address: "i64" }
    : { initial, maximum, shared: true };
  return new WebAssembly.Memory(descriptor as unknown as WebAssembly.MemoryDescriptor);
}

/** Loads and instantiates the kernels, choosing the fastest build the engine runs. */
export async function loadKernels(options: LoadKernelsOptions = {}): Promise<Kernels> {
  const target = options.target ?? (supportsMemory64() ? "wasm64" : "wasm32");
  let relaxed = options.relaxed ?? true;
  let bytes = await fetchWasm(target, relaxed ? "relaxed" : "simd128");
  if (relaxed && options.relaxed === undefined && !WebAssembly.validate(bytes)) {
    relaxed = false;
    bytes = await fetchWasm(target, "simd128");
  }
  const module = await WebAssembly.compile(bytes);
  const memory = createMemory(target, options.initialBytes ?? 16 * 1024 * 1024);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as Exports;
  const version = exports.flint_abi_version();
  if (version !== ABI_VERSION) {
    throw new Error(`kernel ABI version ${version} does not match the loader's ${ABI_VERSION}`);
  }
  return new Kernels({ target, relaxed }, module, memory, exports);
}
