/**
 * Draws the demo catalog's pictures (and the placeholder of products seeded in bulk) into `demo_images/`
 * again: run it after changing the demo catalog
 * or the drawings (`deno run -A services/product/draw_demo_images.ts`), then commit the result.
 *
 * @module
 */
import { demoImagesDir, placeholderSubject, writeDemoPictures } from "./demo_images.ts";
import { demoCatalog } from "./seed.ts";

const files = await writeDemoPictures([...demoCatalog, placeholderSubject]);
// deno-lint-ignore no-console -- a generator script: its one line says what it wrote
console.log(`demo images: wrote ${files.length} pictures into ${demoImagesDir}`);
