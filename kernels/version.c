#include "flint.h"

/* Kernel ABI version; the loader refuses a module whose version it does not know. */
FLINT_EXPORT(flint_abi_version) int flint_abi_version(void) { return 1; }
