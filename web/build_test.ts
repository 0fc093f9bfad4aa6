import assert from "node:assert/strict";
import { buildWeb, webPages } from "./build.ts";

async function filesOf(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const sub of ["", "/assets"]) {
    for await (const entry of Deno.readDir(`${dir}${sub}`)) {
      if (!entry.isFile) continue;
      const bytes = await Deno.readFile(`${dir}${sub}/${entry.name}`);
      const digest = await crypto.subtle.digest("SHA-256", bytes);
      files.set(`${sub}/${entry.name}`, Array.from(new Uint8Array(digest), (b) => b.toString(16)).join(""));
    }
  }
  return files;
}

Deno.test("the UI builds to the same content-hashed files every time, and its pages have no inline script", async () => {
  const first = await Deno.makeTempDir({ prefix: "shop-web-a-" });
  const second = await Deno.makeTempDir({ prefix: "shop-web-b-" });
  try {
    const assets = await buildWeb(first);
    await buildWeb(second);
    assert.deepEqual(
      await filesOf(second),
      await filesOf(first),
      "two builds of the same sources are identical",
    );
    for (const name of assets) {
      assert.match(name, /^[a-z]+-[A-Z0-9]{8}\.(js|css)$/, `${name} is named by its content's hash`);
    }
    for (const { file, entry } of webPages) {
      const html = await Deno.readTextFile(`${first}/${file}`);
      assert.match(
        html,
        new RegExp(`<script type="module" src="/assets/${entry}-[A-Z0-9]{8}\\.js"></script>`),
      );
      assert.doesNotMatch(
        html,
        /<script>|<style|\sstyle="|\son[a-z]+="/,
        `${file} has no inline script or style`,
      );
    }
  } finally {
    await Deno.remove(first, { recursive: true });
    await Deno.remove(second, { recursive: true });
  }
});
