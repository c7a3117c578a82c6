#!/usr/bin/env bash
# Builds every kernels/*.c into one WebAssembly module per target:
#   flint-wasm32-simd128.wasm   wasm32, SIMD128 (runs everywhere)
#   flint-wasm32-relaxed.wasm   wasm32, SIMD128 + relaxed SIMD
#   flint-wasm64-simd128.wasm   memory64 (models over 4 GiB), SIMD128
#   flint-wasm64-relaxed.wasm   memory64, SIMD128 + relaxed SIMD
# The memory is imported and shared so worker threads run the same module on it;
# each instance gets its own stack through the exported __stack_pointer.
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-clang-19}
common=(-O3 -nostdlib -ffreestanding -std=c11 -Wall -Wextra -Werror
  -msimd128 -matomics -mbulk-memory -fno-builtin
  -Wl,--no-entry -Wl,--import-memory -Wl,--shared-memory
  -Wl,--export=__heap_base -Wl,--export=__stack_pointer -Wl,-z,stack-size=1048576)
sources=(*.c)
for target in wasm32 wasm64; do
  if [ "$target" = wasm64 ]; then max=$((16 * 1024 * 1024 * 1024)); else max=$((4 * 1024 * 1024 * 1024)); fi
  for variant in simd128 relaxed; do
    extra=()
    if [ "$variant" = relaxed ]; then extra=(-mrelaxed-simd -DFLINT_RELAXED=1); fi
    "$CC" --target="$target-unknown-unknown" "${common[@]}" "${extra[@]}" \
      -Wl,--max-memory=$max -o "flint-$target-$variant.wasm" "${sources[@]}"
  done
done
echo "built: $(ls flint-*.wasm | tr '\n' ' ')"
