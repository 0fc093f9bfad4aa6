/**
 * Builds the trace viewer (`src/traces/`) into `web/traces-dist` for the trace store to serve as its UI:
 * Jaeger's `jaeger_query` extension serves `index.html` at every path it does not answer itself and the
 * files under `static/` as they are (`ui.assets_path`, set by `observability/trace_store.ts`). Like the
 * storefront's build, the output is named by content hash and rebuilt by `scripts/setup`, never committed.
 *
 * @module
 */
import * as esbuild from "esbuild";

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
  await Deno.remove(outDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  try {
    const result = await esbuild.build({
      absWorkingDir: `${webDir}..`,
      entryPoints: [
        { in: `${webDir}src/traces/viewer.tsx`, out: "viewer" },
        { in: `${webDir}src/traces/traces.css`, out: "traces" },
      ],
      outdir: `${outDir}/static`,
      entryNames: "[name]-[hash]",
      bundle: true,
      format: "esm",
      minify: true,
      target: "es2022",
      jsx: "automatic",
      jsxImportSource: "preact",
      legalComments: "none",
      metafile: true,
      write: true,
      logLevel: "warning",
    });
    const files = Object.keys(result.metafile.outputs).map((path) => path.slice(path.lastIndexOf("/") + 1));
    const script = files.find((name) => name.startsWith("viewer-"));
    const style = files.find((name) => name.startsWith("traces-"));
    if (script === undefined || style === undefined) throw new Error("esbuild wrote no viewer bundle");
    // Absolute paths: Jaeger answers this page at any address, `/trace/...` included.
    await Deno.writeTextFile(
      `${outDir}/index.html`,
      `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shop traces</title>
<link rel="stylesheet" href="/static/${style}">
<script type="module" src="/static/${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The trace viewer needs JavaScript.</noscript>
</body>
</html>
`,
    );
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
