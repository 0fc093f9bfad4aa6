/**
 * Builds the storefront and the admin console into `web/dist` for the gateway to serve: one bundle per
 * page and the stylesheet, named by content hash under `dist/assets/`, and `index.html` / `admin.html`
 * that load them (no inline script, so the gateway's Content-Security-Policy can forbid it). The same
 * sources and esbuild version give the same bytes, so the output is rebuilt, never committed.
 *
 * The demo catalog's pictures (`services/product/demo_images/`, committed, named by content hash) are
 * copied into `dist/images/`, which the gateway serves under `/images/` beside the UI's assets.
 *
 * `deno task web:build` runs it; `scripts/setup` runs it too, so `deno task test` and `deno task dev`
 * always serve what the sources say.
 *
 * @module
 */
import * as esbuild from "esbuild";

const webDir = new URL(".", import.meta.url).pathname;

/** The demo catalog's pictures (drawn by `services/product/draw_demo_images.ts`). */
const demoImagesDir = `${webDir}../services/product/demo_images`;

async function copyDemoImages(outDir: string): Promise<void> {
  await Deno.mkdir(`${outDir}/images`, { recursive: true });
  for await (const entry of Deno.readDir(demoImagesDir)) {
    if (entry.isFile) await Deno.copyFile(`${demoImagesDir}/${entry.name}`, `${outDir}/images/${entry.name}`);
  }
}

/** Where the built UI lands: the gateway's `webDir` by default. */
export const defaultWebDist: string = `${webDir}dist`;

/** The pages the gateway serves, by path, and their title. */
export const webPages = [
  { path: "/", file: "index.html", entry: "storefront", title: "shop" },
  { path: "/admin", file: "admin.html", entry: "admin", title: "shop admin" },
] as const;

/**
 * An HTML page that loads one script and one stylesheet from `base` (no inline script, for the CSP).
 *
 * @example
 * ```ts
 * htmlPage({ title: "shop", base: "/assets", script: "admin-AB12.js", style: "style-CD34.css" });
 * ```
 */
export function htmlPage(
  options: { title: string; base: string; script: string; style: string; noscript?: string },
): string {
  const { title, base, script, style } = options;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${base}/${style}">
<script type="module" src="${base}/${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>${options.noscript ?? "This shop needs JavaScript."}</noscript>
</body>
</html>
`;
}

/**
 * Bundles `entries` (output name -> source) for the browser into `outDir` (emptied first), each named
 * by content hash; returns the file names written and a finder of the bundle of an entry.
 *
 * @example
 * ```ts ignore
 * const { named } = await bundleForBrowser({ outDir: "/tmp/x", assetsDir: "/tmp/x/assets", entries: { app: "src/app.tsx" } });
 * named("app"); // "app-AB12CD34.js"
 * ```
 */
export async function bundleForBrowser(options: {
  outDir: string;
  assetsDir: string;
  entries: Record<string, string>;
  splitting?: boolean;
}): Promise<{ files: string[]; named(entry: string): string }> {
  await Deno.remove(options.outDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const result = await esbuild.build({
    absWorkingDir: `${webDir}..`,
    entryPoints: Object.entries(options.entries).map(([out, source]) => ({ in: source, out })),
    outdir: options.assetsDir,
    entryNames: "[name]-[hash]",
    ...(options.splitting === true ? { chunkNames: "chunk-[hash]", splitting: true } : {}),
    bundle: true,
    format: "esm",
    minify: true,
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    // The workspace's own packages, as Deno names them.
    alias: { "@shop/proto": `${webDir}../proto` },
    legalComments: "none",
    metafile: true,
    write: true,
    logLevel: "warning",
  });
  const files = Object.keys(result.metafile.outputs).map((path) => path.slice(path.lastIndexOf("/") + 1));
  return {
    files,
    named: (entry) => {
      const found = files.find((name) => name.startsWith(`${entry}-`));
      if (found === undefined) throw new Error(`esbuild wrote no ${entry} bundle`);
      return found;
    },
  };
}

/**
 * Builds the UI into `outDir` (emptied first) and returns the names of the files under `assets/`.
 *
 * @example
 * ```ts ignore
 * const assets = await buildWeb("/tmp/web");
 * ```
 */
export async function buildWeb(outDir: string = defaultWebDist): Promise<string[]> {
  try {
    const { files, named } = await bundleForBrowser({
      outDir,
      assetsDir: `${outDir}/assets`,
      entries: {
        storefront: `${webDir}src/storefront.tsx`,
        admin: `${webDir}src/admin.tsx`,
        style: `${webDir}src/style.css`,
      },
      splitting: true,
    });
    for (const { file, entry, title } of webPages) {
      const html = htmlPage({ title, base: "/assets", script: named(entry), style: named("style") });
      await Deno.writeTextFile(`${outDir}/${file}`, html);
    }
    await copyDemoImages(outDir);
    return files;
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) {
  const assets = await buildWeb(Deno.args[0]);
  // deno-lint-ignore no-console -- a build script: its one line says where the UI went
  console.log(`web: built ${assets.length} assets into ${Deno.args[0] ?? defaultWebDist}`);
}
