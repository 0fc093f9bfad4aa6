/**
 * Builds the trace viewer (`src/traces/`) into `web/traces-dist` for the trace store to serve as its UI:
 * Jaeger's `jaeger_query` extension serves `index.html` at every path it does not answer itself and the
 * files under `static/` as they are (`ui.assets_path`, set by `observability/trace_store.ts`). Like the
 * storefront's build, the output is named by content hash and rebuilt by `scripts/setup`, never committed.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { bundleForBrowser, htmlPage } from "./build.ts";

const webDir = new URL(".", import.meta.url).pathname;

/** Where the built viewer lands, for the trace store's `ui.assets_path`. */
export const traceViewerDist: string = `${webDir}traces-dist`;

/**
 * Builds the viewer into `outDir` (emptied first) and returns the names of the files under `static/`.
 *
 * @example
 * ```ts ignore
 * const files = await buildTraceViewer("/tmp/traces");
 * ```
 */
export async function buildTraceViewer(outDir: string = traceViewerDist): Promise<string[]> {
  try {
    const { files, named } = await bundleForBrowser({
      outDir,
      assetsDir: `${outDir}/static`,
      entries: { viewer: `${webDir}src/traces/viewer.tsx`, traces: `${webDir}src/traces/traces.css` },
    });
    // Absolute paths: Jaeger answers this page at any address, `/trace/...` included.
    const html = htmlPage({
      title: "shop traces",
      base: "/static",
      script: named("viewer"),
      style: named("traces"),
      noscript: "The trace viewer needs JavaScript.",
    });
    await Deno.writeTextFile(`${outDir}/index.html`, html);
    return files;
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) {
  const files = await buildTraceViewer(Deno.args[0]);
  // deno-lint-ignore no-console -- a build script: its one line says where the viewer went
  console.log(`traces: built ${files.length} files into ${Deno.args[0] ?? traceViewerDist}`);
}
