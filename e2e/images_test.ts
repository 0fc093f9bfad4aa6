/**
 * Product pictures through the gateway (ARCHITECTURE.md section 7): the demo catalog's pictures served
 * under `/images/` with long cache lifetimes, and admins setting a product's `images` with the update
 * mask over REST.
 */
import assert from "node:assert/strict";
import { createProduct, expectError, ok, type Product, restClient, signIn } from "./rest.ts";
import { startStack } from "./stack.ts";

/** The field violations of a REST error body (`google.rpc.BadRequest` in `details`). */
function violatedFields(body: Record<string, unknown>): string[] {
  const details = Array.isArray(body.details) ? body.details as Array<Record<string, unknown>> : [];
  return details.filter((d) => String(d["@type"]).endsWith("google.rpc.BadRequest"))
    .flatMap((d) => Array.isArray(d.fieldViolations) ? d.fieldViolations as Array<{ field: string }> : [])
    .map((violation) => violation.field);
}

Deno.test("product pictures through the gateway", async (t) => {
  await using stack = await startStack({ label: "images" });
  const rest = restClient(stack);
  const client = stack.client();

  await t.step("every demo product has a picture the gateway serves, cacheable for a year", async () => {
    const { products } = ok<{ products: Product[] }>(await rest("GET", "/v1/products?pageSize=100"), "list");
    const demo = products.filter((product) => /^[A-Z]{2}-/.test(product.sku));
    assert.ok(demo.length >= 12, "the demo catalog is seeded");
    for (const product of demo) {
      const [image] = product.images ?? [];
      assert.ok(image !== undefined, `${product.sku} has a picture`);
      assert.match(image.uri, /^\/images\/[a-z0-9-]+-[0-9a-f]{12}\.svg$/, "named by its content's hash");
      assert.ok(image.altText.startsWith(product.name), `${product.sku}'s alt text names it`);
    }
    const dune = demo.find((product) => product.sku === "BK-DUNE");
    const uri = dune?.images?.[0]?.uri ?? "";
    const picture = await fetch(`${stack.url}${uri}`, { client });
    const svg = await picture.text();
    assert.equal(picture.status, 200);
    assert.equal(picture.headers.get("content-type"), "image/svg+xml");
    assert.equal(picture.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(picture.headers.get("x-content-type-options"), "nosniff");
    assert.match(picture.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<title>Dune<\/title>/);
    const hash = /-([0-9a-f]{12})\.svg$/.exec(uri)?.[1] ?? "";
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(svg)));
    const actual = [...digest.slice(0, 6)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    assert.equal(actual, hash, "the name's hash is the hash of what is served");
    const head = await fetch(`${stack.url}${uri}`, { client, method: "HEAD" });
    await head.body?.cancel();
    assert.equal(head.status, 200);
    for (const path of ["/images/", "/images/nope-000000000000.svg", uri.replace(".svg", ".png")]) {
      const other = await fetch(`${stack.url}${path}`, { client });
      assert.deepEqual([other.status, (await other.json()).code], [404, 5], `${path} keeps the JSON 404`);
    }
  });

  const admin = await signIn(rest, stack.admin.email, stack.admin.password);

  await t.step("an admin sets a product's images with the update mask; reads show them", async () => {
    const product = await createProduct(rest, admin.accessToken, {
      category: "pictures",
      priceMinor: 500,
      stock: 3,
    });
    assert.deepEqual(product.images ?? [], []);
    const images = [
      { uri: "/images/bk-dune-000000000000.svg", altText: "A drawn book" },
      { uri: "https://pictures.example.com/tea.jpg", altText: "A cup of tea" },
    ];
    const { product: changed } = ok<{ product: Product }>(
      await rest("PATCH", `/v1/products/${product.id}?updateMask=images`, {
        token: admin.accessToken,
        body: { name: "not in the mask", images },
      }),
      "set images",
    );
    assert.deepEqual(changed.images, images);
    assert.equal(changed.name, product.name, "only the masked field changed");
    const { product: read } = ok<{ product: Product }>(await rest("GET", `/v1/products/${product.id}`));
    assert.deepEqual(read.images, images);
    const { products } = ok<{ products: Product[] }>(await rest("GET", "/v1/products?category=pictures"));
    assert.deepEqual(products.find((p) => p.id === product.id)?.images, images, "lists show them too");

    const bad = await rest("PATCH", `/v1/products/${product.id}?updateMask=images`, {
      token: admin.accessToken,
      body: { images: [images[0], { uri: "http://pictures.example.com/tea.jpg", altText: "" }] },
    });
    expectError(bad, 400, 3, "an http picture without alt text");
    const fields = violatedFields(bad.body);
    assert.ok(fields.includes("product.images[1].uri"), fields.join(", "));
    assert.ok(fields.includes("product.images[1].alt_text"), fields.join(", "));
    const anonymous = await rest("PATCH", `/v1/products/${product.id}?updateMask=images`, {
      body: { images: [] },
    });
    expectError(anonymous, 401, 16, "a change without a token");
    assert.deepEqual(
      ok<{ product: Product }>(await rest("GET", `/v1/products/${product.id}`)).product.images,
      images,
      "nothing was written",
    );

    const { product: cleared } = ok<{ product: Product }>(
      await rest("PATCH", `/v1/products/${product.id}?updateMask=images`, {
        token: admin.accessToken,
        body: {},
      }),
      "clear images",
    );
    assert.deepEqual(cleared.images ?? [], []);
  });
});
