/**
 * Loads flint's WebAssembly kernels into a shared `WebAssembly.Memory` and hands out
 * aligned regions of it. The same C source is built for wasm32 (up to 4 GiB) and
 * wasm64/memory64 (past 4 GiB); on wasm64 every pointer and `size_t` argument is a
 * BigInt, which `ptr()` hides. Where `SharedArrayBuffer` is missing, the memory is not
 * shared and the kernels run on the calling thread only.
 */

/** Build of the kernels to load: address width and SIMD flavour. */
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
  /**
   * Share the memory so worker threads can run kernels on it. Default true when the
   * engine has `SharedArrayBuffer`; false gives a plain memory for one thread.
   */
  shared?: boolean;
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

  /** Returns a byte view of `[ptr, ptr + length)`. Take a new one after the memory grows. */
  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  /** Returns a float32 view of `n` values at `ptr`, which must be 4-byte aligned. */
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

/**
 * Folder of the `.wasm` files relative to this module. `tools/bundle.ts` rewrites this
 * line, because a bundle keeps them beside itself.
 */
const KERNELS_DIR = "../../kernels/";

async function fetchWasm(target: string, variant: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`${KERNELS_DIR}flint-${target}-${variant}.wasm`, import.meta.url);
  if (url.protocol === "file:" && typeof Deno !== "undefined") return await Deno.readFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch kernels from ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Creates the memory for a build, shared unless `shared` is false.
 *
 * NOTE: growing a memory that is not shared detaches its `ArrayBuffer`, so typed-array
 * views made before an `alloc` that grew it read as empty. `loadModel` sizes the initial
 * memory for the weights, one KV cache and the scratch buffers to avoid that.
 */
export function createMemory(
  target: "wasm32" | "wasm64",
  initialBytes: number,
  shared = true,
): WebAssembly.Memory {
  const initial = Math.max(32, Math.ceil(initialBytes / PAGE));
  // 16 GiB is V8's memory64 limit; 4 GiB is all wasm32 can address.
  const maximum = target === "wasm64" ? 262144 : 65536;
  const descriptor = target === "wasm64"
    ? { initial: BigInt(initial), maximum: BigInt(maximum), shared, address: "i64" }
    : { initial, maximum, shared };
  return new WebAssembly.Memory(descriptor as unknown as WebAssembly.MemoryDescriptor);
}

/** Reads an unsigned LEB128 number at `pos` and returns it with the position after it. */
function readLeb(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= bytes.length) throw new RangeError("kernel module ends inside a LEB128 number");
    const byte = bytes[pos++];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
}

/**
 * Returns a copy of a kernel module whose imported memory is not shared, so it links
 * against a plain `WebAssembly.Memory`. Only the shared bit (0x02) of the import's limits
 * flags changes. The flags value is below 0x80, so it is one byte and no offset moves.
 * The module's atomic instructions stay valid on a plain memory, and its one
 * `memory.atomic.wait32` runs only in a second instance on the same memory, which a
 * single-threaded run never creates.
 */
export function unshareMemoryImport(module: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(module);
  let pos = 8; // magic and version
  while (pos < bytes.length) {
    const id = bytes[pos];
    const [size, start] = readLeb(bytes, pos + 1);
    pos = start + size;
    if (id !== 2) continue; // not the import section
    let p = start;
    let count: number;
    [count, p] = readLeb(bytes, p);
    for (let i = 0; i < count; i++) {
      let length: number;
      [length, p] = readLeb(bytes, p); // module name
      p += length;
      [length, p] = readLeb(bytes, p); // field name
      p += length;
      const kind = bytes[p++];
      if (kind === 2) {
        bytes[p] &= ~0x02;
        return bytes;
      }
      if (kind === 0) [, p] = readLeb(bytes, p); // function: type index
      else if (kind === 1) { // table: reference type, then limits
        const flags = bytes[p + 1];
        [, p] = readLeb(bytes, p + 2);
        if (flags & 1) [, p] = readLeb(bytes, p);
      } else if (kind === 3) p += 2; // global: value type and mutability
      else if (kind === 4) [, p] = readLeb(bytes, p + 1); // tag: attribute, type index
      else throw new RangeError(`kernel module has an import of unknown kind ${kind}`);
    }
  }
  throw new RangeError("kernel module imports no memory");
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
  const shared = options.shared ?? typeof SharedArrayBuffer !== "undefined";
  const module = await WebAssembly.compile(shared ? bytes : unshareMemoryImport(bytes));
  const memory = createMemory(target, options.initialBytes ?? 16 * 1024 * 1024, shared);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as Exports;
  const version = exports.flint_abi_version();
  if (version !== ABI_VERSION) {
    throw new Error(`kernel ABI version ${version} does not match the loader's ${ABI_VERSION}`);
  }
  return new Kernels({ target, relaxed }, module, memory, exports);
}
