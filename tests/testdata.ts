/**
 * Locates the shared reference data (`../shared/testdata` beside the repository). Tests
 * that need it pass `ignore: !HAVE_TESTDATA` so a fresh clone without it skips them.
 */
export const TESTDATA_DIR = new URL("../../shared/testdata/", import.meta.url).pathname;

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

if (!HAVE_TESTDATA) {
  // deno-lint-ignore no-console
  console.warn(`skipping tests that need reference data: ${TESTDATA_DIR} not found`);
}

/** Absolute path of a file under the reference data folder. */
export function testdataPath(relative: string): string {
  return TESTDATA_DIR + relative;
}
