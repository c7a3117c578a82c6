/**
 * Locates the shared reference data (`../shared/testdata` beside the repository). Tests
 * that need it pass `ignore: !HAVE_TESTDATA` so a fresh clone without it skips them.
 * `FLINT_TESTDATA_DIR` points elsewhere.
 */
export const TESTDATA_DIR = envDir() ?? new URL("../../shared/testdata/", import.meta.url).pathname;

/** `FLINT_TESTDATA_DIR` with a final slash, when set and readable. */
function envDir(): string | undefined {
  try {
    const dir = Deno.env.get("FLINT_TESTDATA_DIR");
    return dir ? dir.replace(/\/?$/, "/") : undefined;
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the reference data is present. */
export const HAVE_TESTDATA = exists(TESTDATA_DIR);

/** Set in the process environment, which all test files of one `deno test` run share. */
const WARNED = "FLINT_TESTDATA_WARNED";

if (!HAVE_TESTDATA && !warnedBefore()) {
  // deno-lint-ignore no-console
  console.warn(`skipping tests that need reference data: ${TESTDATA_DIR} not found`);
}

/** True when another test file of this process already warned; marks the warning as given. */
function warnedBefore(): boolean {
  try {
    if (Deno.env.get(WARNED) === String(Deno.pid)) return true;
    Deno.env.set(WARNED, String(Deno.pid));
  } catch {
    // Without --allow-env each file warns.
  }
  return false;
}

/** Absolute path of a file under the reference data folder. */
export function testdataPath(relative: string): string {
  return TESTDATA_DIR + relative;
}
