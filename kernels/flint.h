/* Shared definitions for flint's freestanding WebAssembly kernels. */
#ifndef FLINT_H
#define FLINT_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

/* Exports a function to JavaScript under its C name. */
#define FLINT_EXPORT(name) __attribute__((export_name(#name))) 

typedef uint16_t ggml_fp16_t;

#endif
