/**
 * The kernel pool loaded from http: URLs, as from JSR or a CDN: the worker script and the
 * .wasm files are fetched relative to the module, not read from disk.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".wasm": "application/wasm",
};

/** Serves the repository's src/, kernels/ and tests/ folders on 127.0.0.1. */
function serveRepository(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const type = TYPES[path.slice(path.lastIndexOf("."))];
    if (!/^\/(src|kernels|tests)\/[\w/.-]+$/.test(path) || path.includes("..") || !type) {
      return new Response("not found", { status: 404 });
    }
    try {
      const body = await Deno.readFile(new URL(path.slice(1), ROOT));
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("pool loads its worker over http", async () => {
  const server = serveRepository();
  const cacheDir = await Deno.makeTempDir({ prefix: "flint-deno-dir-" });
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    const url = `http://${host}/tests/pool_remote_main.ts`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", `--allow-import=${host}`, `--allow-net=${host}`, url],
      cwd: cacheDir,
      env: { DENO_DIR: cacheDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `the remote script failed: ${stderr}`);
    const report = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.equal(report.url, url);
    assert.equal(report.threads, 2);
    assert.ok(report.workerChunks > 0, "the worker loaded from http ran chunks");
    assert.equal(report.identical, true);
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});
