import assert from "node:assert/strict";
import { demoImagesDir, demoPicture, demoPictureSvg, placeholderSubject } from "./demo_images.ts";
import { demoCatalog, demoImages, placeholderImageUri } from "./seed.ts";

Deno.test("demoPicture() names a picture by its content, the same on every run", async () => {
  const dune = { sku: "BK-DUNE", name: "Dune", category: "books" };
  const first = await demoPicture(dune);
  assert.equal(first.file, (await demoPicture(dune)).file);
  assert.match(first.file, /^bk-dune-[0-9a-f]{12}\.svg$/);
  assert.notEqual(first.file, (await demoPicture({ ...dune, name: "Dune Messiah" })).file);
});

Deno.test("demoPictureSvg() escapes the name and carries no script or style element", () => {
  const svg = demoPictureSvg({ sku: "X-1", name: `Fish & <Chips> "to go"`, category: "kitchen" });
  assert.match(svg, /Fish &amp; &lt;Chips&gt; &quot;to go&quot;/);
  assert.doesNotMatch(svg, /<script|<style|on[a-z]+=|href=/i);
});

Deno.test("every demo product and the placeholder have a committed picture, and nothing else is committed", async () => {
  const committed = new Map<string, string>();
  for await (const entry of Deno.readDir(demoImagesDir)) {
    committed.set(entry.name, await Deno.readTextFile(`${demoImagesDir}/${entry.name}`));
  }
  const expected = await Promise.all([...demoCatalog, placeholderSubject].map(demoPicture));
  assert.deepEqual(
    [...committed.keys()].sort(),
    expected.map((picture) => picture.file).sort(),
    "run deno run -A services/product/draw_demo_images.ts and commit services/product/demo_images",
  );
  for (const picture of expected) assert.equal(committed.get(picture.file), picture.svg, picture.file);
  for (const demo of demoCatalog) {
    const [image] = await demoImages(demo);
    assert.ok(image && committed.has(image.uri.replace("/images/", "")), demo.sku);
    assert.match(
      image.altText,
      new RegExp(`^${demo.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: a drawing of`),
    );
  }
});

Deno.test("placeholderImageUri() names the committed placeholder", async () => {
  const uri = await placeholderImageUri();
  assert.match(uri, /^\/images\/placeholder-[0-9a-f]{12}\.svg$/);
  await Deno.stat(`${demoImagesDir}/${uri.replace("/images/", "")}`);
});
