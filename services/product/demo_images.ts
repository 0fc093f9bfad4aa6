/**
 * The demo catalog's pictures, drawn by the project itself: one SVG per demo product, made from its SKU,
 * name and category only (no third-party pictures), byte for byte the same on every run. The files are
 * committed in `demo_images/` under names that carry a hash of their content
 * (`bk-dune-<hash>.svg`), so the gateway may let browsers cache them for a year; the web build copies
 * them into `web/dist/images/` and the gateway serves them under `/images/`.
 *
 * `deno run -A services/product/draw_demo_images.ts` writes them again (and removes pictures no product
 * uses); `demo_images_test.ts` fails when the committed files differ from what this draws.
 *
 * @module
 */

/** What a picture is drawn from. */
export interface PictureSubject {
  sku: string;
  name: string;
  category: string;
}

/** A drawn picture: its file name (with the hash of its content) and its SVG text. */
export interface DemoPicture {
  file: string;
  svg: string;
}

/** The subject of the one picture that is no product's own: for products seeded in bulk (the bench). */
export const placeholderSubject: PictureSubject = {
  sku: "placeholder",
  name: "A product of the shop",
  category: "other",
};

/** Where the committed pictures are. */
export const demoImagesDir: string = new URL("./demo_images", import.meta.url).pathname;

/** Background and ink of each demo category; other categories get the last pair. */
const palettes: Readonly<Record<string, readonly [string, string, string]>> = {
  books: ["#f4e9d8", "#e3c9a0", "#6b3f1d"],
  kitchen: ["#e3f1ef", "#a9d3cc", "#1f5f57"],
  electronics: ["#e6e9f7", "#b4bde8", "#27306b"],
  garden: ["#eaf4dd", "#bddc98", "#35591a"],
  other: ["#f1f1f1", "#cfcfcf", "#333333"],
};

/** A simple drawing of each category, in a 200 x 200 box centred at (200, 140). */
const pictograms: Readonly<Record<string, string>> = {
  books: [
    '<rect x="130" y="60" width="120" height="160" rx="6" fill="INK"/>',
    '<rect x="142" y="60" width="8" height="160" fill="LIGHT"/>',
    '<rect x="165" y="90" width="70" height="10" rx="3" fill="LIGHT"/>',
    '<rect x="165" y="110" width="50" height="8" rx="3" fill="LIGHT"/>',
    '<path d="M250 70 L270 80 L270 230 L140 230 L130 220 L250 220 Z" fill="MID"/>',
  ].join(""),
  kitchen: [
    '<rect x="130" y="80" width="110" height="130" rx="18" fill="INK"/>',
    '<path d="M240 105 h20 a22 22 0 0 1 0 70 h-20" fill="none" stroke="INK" stroke-width="14"/>',
    '<rect x="145" y="100" width="80" height="10" rx="5" fill="LIGHT"/>',
    '<path d="M160 60 q10 -15 0 -30 M185 60 q10 -15 0 -30 M210 60 q10 -15 0 -30" fill="none" ' +
    'stroke="MID" stroke-width="6" stroke-linecap="round"/>',
  ].join(""),
  electronics: [
    '<rect x="110" y="70" width="180" height="120" rx="10" fill="INK"/>',
    '<rect x="122" y="82" width="156" height="96" rx="4" fill="MID"/>',
    '<path d="M205 95 L180 135 H200 L190 168 L222 122 H202 Z" fill="INK"/>',
    '<rect x="170" y="196" width="60" height="10" rx="4" fill="INK"/>',
  ].join(""),
  garden: [
    '<path d="M200 225 C120 190 120 90 200 50 C280 90 280 190 200 225 Z" fill="INK"/>',
    '<path d="M200 215 V70" stroke="LIGHT" stroke-width="6" stroke-linecap="round"/>',
    '<path d="M200 160 L165 130 M200 130 L235 100 M200 185 L240 155" stroke="LIGHT" stroke-width="5" ' +
    'stroke-linecap="round"/>',
  ].join(""),
  other: '<circle cx="200" cy="140" r="80" fill="INK"/>',
};

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** A short version of a name that fits the picture's caption (about 28 characters). */
function caption(name: string): string {
  const chars = [...name];
  return chars.length <= 28 ? name : `${chars.slice(0, 27).join("").trimEnd()}…`;
}

/** A number from 0 to 359 that depends on every character of `text` (FNV-1a), for a per-product tint. */
function hueOf(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % 360;
}

/**
 * The SVG text of a product's picture: its category's drawing on a tinted card, its name beneath.
 * Presentation attributes only (no style element, no script), so it renders under `default-src 'none'`.
 *
 * @example
 * ```ts
 * const svg = demoPictureSvg({ sku: "BK-DUNE", name: "Dune", category: "books" });
 * svg.startsWith("<svg"); // true
 * ```
 */
export function demoPictureSvg(subject: PictureSubject): string {
  const [light, mid, ink] = palettes[subject.category] ?? palettes.other ?? ["#fff", "#ccc", "#000"];
  const drawing = (pictograms[subject.category] ?? pictograms.other ?? "")
    .replaceAll("INK", ink).replaceAll("LIGHT", light).replaceAll("MID", mid);
  const hue = hueOf(subject.sku);
  const spots = [0, 1, 2].map((i) => {
    const angle = ((hue + i * 120) * Math.PI) / 180;
    const x = Math.round(200 + 150 * Math.cos(angle));
    const y = Math.round(140 + 90 * Math.sin(angle));
    return `<circle cx="${x}" cy="${y}" r="${24 + i * 10}" fill="${mid}" opacity="0.5"/>`;
  }).join("");
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="400" height="300" role="img">',
    `<title>${escapeXml(subject.name)}</title>`,
    `<rect width="400" height="300" fill="${light}"/>`,
    `<rect width="400" height="300" fill="hsl(${hue}, 60%, 50%)" opacity="0.08"/>`,
    spots,
    drawing,
    `<rect y="246" width="400" height="54" fill="${ink}"/>`,
    `<text x="200" y="280" fill="${light}" font-family="system-ui, sans-serif" font-size="20" ` +
    `text-anchor="middle">${escapeXml(caption(subject.name))}</text>`,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * A product's picture with its file name: the SKU in lower case and the first 12 hex digits of the
 * SHA-256 of the SVG, so a changed picture gets a new name and a cached one never goes stale.
 *
 * @example
 * ```ts
 * const picture = await demoPicture({ sku: "BK-DUNE", name: "Dune", category: "books" });
 * picture.file; // "bk-dune-<12 hex digits>.svg"
 * ```
 */
export async function demoPicture(subject: PictureSubject): Promise<DemoPicture> {
  const svg = demoPictureSvg(subject);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(svg)));
  const hash = [...digest.slice(0, 6)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const slug = subject.sku.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  return { file: `${slug}-${hash}.svg`, svg };
}

/**
 * Writes the pictures of `subjects` into `dir` and removes every other `.svg` there.
 *
 * @example
 * ```ts ignore
 * await writeDemoPictures([{ sku: "BK-DUNE", name: "Dune", category: "books" }], "/tmp/pictures");
 * ```
 */
export async function writeDemoPictures(
  subjects: readonly PictureSubject[],
  dir: string = demoImagesDir,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const pictures = await Promise.all(subjects.map(demoPicture));
  const wanted = new Set(pictures.map((picture) => picture.file));
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".svg") && !wanted.has(entry.name)) {
      await Deno.remove(`${dir}/${entry.name}`);
    }
  }
  for (const picture of pictures) await Deno.writeTextFile(`${dir}/${picture.file}`, picture.svg);
  return [...wanted].sort();
}
