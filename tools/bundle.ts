/**
 * Bundles flint with esbuild for hosts that take one JavaScript file: writes
 * `<outdir>/flint.js` (the library, `mod.ts`), `<outdir>/edge.js` (the fetch app,
 * `deploy/app.ts`) and the kernel `.wasm` files beside them. The kernel worker is
 * bundled too and embedded as a blob URL, so the output has no other files.
 *
 *     deno task bundle [--outdir dist] [--minify]
 */
import * as esbuild from "esbuild";
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);
const KERNELS_LINE = 'const KERNELS_DIR = "../../kernels/";';
const WORKER_URL_EXPR = 'new URL("./pool_worker.ts", import.meta.url)';

/** Options of {@link bundle}. */
export interface BundleOptions {
  /** Output folder; created if missing. */
  outdir: string;
  minify?: boolean;
}

function fromRoot(path: string): string {
  return new URL(path, ROOT).pathname;
}

/**
 * Resolves the bare specifiers of deno.json's import map (`@huggingface/jinja`) to
 * the files Deno has cached, so esbuild bundles them.
 */
const denoImports: esbuild.Plugin = {
  name: "deno-imports",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      const resolved = import.meta.resolve(args.path);
      if (!resolved.startsWith("file:")) {
        return {
          errors: [{
            text: `cannot bundle "${args.path}": it resolves to ${resolved}, not a cached file; ` +
              "run `deno install` first",
          }],
        };
      }
      return { path: new URL(resolved).pathname };
    });
  },
};

/**
 * Rewrites the two source lines that locate files relative to the module: the
 * kernels folder becomes the bundle's own folder, and the worker URL becomes a blob URL
 * of the bundled worker.
 */
function relocate(workerSource: string): esbuild.Plugin {
  const replace = async (path: string, from: string, to: string) => {
    const text = await Deno.readTextFile(path);
    if (!text.includes(from)) {
      throw new Error(`${path} no longer contains ${from}; update tools/bundle.ts`);
    }
    return { contents: text.replace(from, to), loader: "ts" as const };
  };
  return {
    name: "relocate",
    setup(build) {
      build.onLoad(
        { filter: /[\\/]src[\\/]kernels[\\/]runtime\.ts$/ },
        (args) => replace(args.path, KERNELS_LINE, 'const KERNELS_DIR = "./";'),
      );
      build.onLoad({ filter: /[\\/]src[\\/]kernels[\\/]pool\.ts$/ }, (args) =>
        replace(
          args.path,
          WORKER_URL_EXPR,
          `URL.createObjectURL(new Blob([${
            JSON.stringify(workerSource)
          }], { type: "text/javascript" }))`,
        ));
    },
  };
}

/** Builds the bundles into `options.outdir` and copies the kernels; returns the files written. */
export async function bundle(options: BundleOptions): Promise<string[]> {
  await Deno.mkdir(options.outdir, { recursive: true });
  const common: esbuild.BuildOptions = {
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: options.minify ?? false,
    logLevel: "warning",
  };
  const worker = await esbuild.build({
    ...common,
    entryPoints: [fromRoot("src/kernels/pool_worker.ts")],
    write: false,
  });
  await esbuild.build({
    ...common,
    entryPoints: { flint: fromRoot("mod.ts"), edge: fromRoot("deploy/app.ts") },
    outdir: options.outdir,
    plugins: [denoImports, relocate(worker.outputFiles[0].text)],
  });
  const written = [`${options.outdir}/flint.js`, `${options.outdir}/edge.js`];
  for await (const entry of Deno.readDir(fromRoot("kernels"))) {
    if (!entry.name.endsWith(".wasm")) continue;
    await Deno.copyFile(fromRoot(`kernels/${entry.name}`), `${options.outdir}/${entry.name}`);
    written.push(`${options.outdir}/${entry.name}`);
  }
  return written;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { outdir: { type: "string", default: "dist" }, minify: { type: "boolean" } },
  });
  try {
    const files = await bundle({ outdir: values.outdir!, minify: values.minify });
    for (const file of files) {
      // deno-lint-ignore no-console
      console.log(`${file} ${(await Deno.stat(file)).size} bytes`);
    }
  } finally {
    await esbuild.stop();
  }
}
