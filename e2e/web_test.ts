/**
 * The storefront and the admin console in a real browser (headless Debian Chromium driven by
 * playwright-core), through the gateway of a whole stack: what a customer and an admin see and do, each
 * page checked with axe-core at 375 px wide and photographed into `web/screenshots/`.
 */
import assert from "node:assert/strict";
import { eventually } from "@shop/platform/testing";
import type { Page } from "playwright-core";
import {
  createProduct,
  expectError,
  ok,
  type Order,
  paymentsOf,
  restClient,
  signIn,
  stockOf,
} from "./rest.ts";
import { intentsOf } from "./simulator.ts";
import { launchBrowser, newVisitor, snapshot } from "./browser.ts";
import { startStack } from "./stack.ts";

/** A button's accessible name: its visible words, then words only a screen reader hears. */
function named(visible: string, hidden: string): RegExp {
  return new RegExp(`^${visible}\\W+${hidden}$`);
}

/** What has the keyboard focus. */
async function focused(page: Page): Promise<{ id: string; tag: string; text: string }> {
  const element = "document.activeElement";
  return await page.evaluate(
    `({ id: ${element}?.id ?? "", tag: ${element}?.tagName ?? "", text: ${element}?.textContent ?? "" })`,
  );
}

/** Registers a new customer through the storefront; ends signed in on the catalog. */
async function register(page: Page, url: string, name: string) {
  const email = `${name}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `${name} has a long password`;
  await page.goto(`${url}/#/register`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Password").fill(password);
  await snapshot(page, "storefront-register");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Catalog" }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return { email, password };
}

/** Searches the catalog by text and category. */
async function search(page: Page, query: string, filters: { category?: string; min?: string } = {}) {
  await page.getByLabel("Search").fill(query);
  await page.getByLabel("Category").fill(filters.category ?? "");
  await page.getByLabel("Min price").fill(filters.min ?? "");
  await page.getByRole("button", { name: "Search", exact: true }).click();
}

/** Opens the cart and fills the shipping address and the payment method; the order is not placed yet. */
async function fillCheckout(
  page: Page,
  card: "Visa that pays" | "Card that is declined" | "Card whose payment takes a while",
) {
  await page.getByRole("link", { name: /^Cart/ }).click();
  await page.getByRole("heading", { name: "Cart" }).waitFor();
  await page.getByLabel("Full name").fill("Ada Lovelace");
  await page.getByLabel("Address line 1").fill("12 Analytical Row");
  await page.getByLabel("City").fill("London");
  await page.getByLabel("Postal code").fill("N1 9GU");
  await page.getByLabel("Country code (2 letters)").fill("GB");
  await page.getByLabel(card).check();
}

/** The order shown on the result page, by the id in the address. */
function shownOrderId(page: Page): string {
  const id = new URL(page.url()).hash.replace("#/orders/", "");
  assert.match(id, /^[0-9a-f-]{36}$/, `the result page's address names the order: ${page.url()}`);
  return id;
}

Deno.test("the storefront and the admin console in a real browser, through the gateway", async (t) => {
  await using stack = await startStack({ label: "web" });
  await using browser = await launchBrowser();
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const tag = crypto.randomUUID().slice(0, 6);
  const category = `kitchen${tag}`;
  const kettle = await createProduct(rest, admin.accessToken, {
    category,
    name: `Kettle ${tag}`,
    description: "Boils water",
    priceMinor: 2500,
    stock: 20,
  });
  const mug = await createProduct(rest, admin.accessToken, {
    category,
    name: `Mug ${tag}`,
    description: "Holds tea",
    priceMinor: 900,
    stock: 20,
  });
  // The demo catalog's pictures of a kettle and a mug, given to this run's products by the admin.
  const demo = ok<{ products: Array<{ sku: string; images?: Array<{ uri: string; altText: string }> }> }>(
    await rest("GET", "/v1/products?category=kitchen&pageSize=100"),
    "the demo kitchen",
  ).products;
  const pictureOf = (sku: string) => demo.find((product) => product.sku === sku)?.images?.[0]?.uri ?? "";
  for (const [product, sku] of [[kettle, "KT-KETTLE"], [mug, "KT-MUG"]] as const) {
    ok(
      await rest("PATCH", `/v1/products/${product.id}?updateMask=images`, {
        token: admin.accessToken,
        body: { images: [{ uri: pictureOf(sku), altText: `${product.name}, drawn` }] },
      }),
      `a picture for ${product.name}`,
    );
  }
  const ordersOf = async (token: string) =>
    ok<{ orders: Order[] }>(await rest("GET", "/v1/orders?pageSize=100", { token }), "list orders").orders;

  await t.step(
    "the gateway serves /, /admin and the hashed assets with security headers, and nothing else",
    async () => {
      const client = stack.client();
      const storefront = await fetch(`${stack.url}/`, { client });
      const html = await storefront.text();
      assert.equal(storefront.status, 200);
      assert.match(storefront.headers.get("content-type") ?? "", /^text\/html/);
      const csp = storefront.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'(;|$)/, "scripts from the gateway only, none inline");
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(storefront.headers.get("x-content-type-options"), "nosniff");
      assert.equal(storefront.headers.get("referrer-policy"), "no-referrer");
      assert.match(storefront.headers.get("strict-transport-security") ?? "", /max-age=\d{7,}/);
      const script = /src="(\/assets\/storefront-[A-Z0-9]+\.js)"/.exec(html)?.[1];
      assert.ok(script !== undefined, "the page loads a content-hashed bundle");
      assert.doesNotMatch(html, /<script>/, "no inline script");
      const asset = await fetch(`${stack.url}${script}`, { client });
      await asset.body?.cancel();
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get("cache-control") ?? "", /max-age=31536000.*immutable/);
      assert.match(asset.headers.get("content-type") ?? "", /^text\/javascript/);
      const console = await fetch(`${stack.url}/admin`, { client });
      assert.match(await console.text(), /\/assets\/admin-[A-Z0-9]+\.js/);
      for (const path of ["/index.html", "/admin/", "/assets/", "/assets/storefront.js"]) {
        const other = await fetch(`${stack.url}${path}`, { client });
        assert.deepEqual([other.status, (await other.json()).code], [404, 5], `${path} keeps the JSON 404`);
      }
    },
  );

  await t.step("the catalog works with the keyboard alone", async () => {
    const { page, context } = await newVisitor(browser);
    await page.goto(`${stack.url}/`);
    await page.getByRole("heading", { name: "Catalog" }).waitFor();
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).text, "Skip to content");
    await page.keyboard.press("Enter");
    assert.equal((await focused(page)).tag, "H1");
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).id, "field-query");
    await page.keyboard.type(`Kettle ${tag}`);
    await page.keyboard.press("Enter");
    // The first page may not show the mug at all (other tests' products fill it), so its leaving
    // proves nothing: wait until every offered product is the one searched for.
    const offers = page.getByRole("button", { name: /^Add to cart/ });
    await eventually("only the searched product offered", async () => {
      const names = await offers.allTextContents();
      return names.length > 0 && names.every((name) => name.includes(`Kettle ${tag}`));
    }, { timeoutMs: 10_000, intervalMs: 50 });
    assert.equal(await offers.count(), 1, "the search leaves one product");
    for (let presses = 0; presses < 20; presses++) {
      await page.keyboard.press("Tab");
      if ((await focused(page)).text.startsWith("Add to cart")) break;
    }
    assert.match((await focused(page)).text, /Kettle/);
    await page.keyboard.press("Enter");
    await page.getByRole("link", { name: "Cart (1)" }).waitFor();
    await context.close();
  });

  const { page: customer, errors: customerErrors } = await newVisitor(browser);
  const account = await register(customer, stack.url, "ada");
  const customerTokens = await signIn(rest, account.email, account.password);

  await t.step("a customer searches, filters, adds two products, pays, cancels and is refunded", async () => {
    await search(customer, tag, { category });
    await customer.getByRole("link", { name: `Mug ${tag}` }).waitFor();
    await customer.getByRole("link", { name: `Kettle ${tag}` }).waitFor();
    await snapshot(customer, "storefront-catalog");
    await search(customer, tag, { category, min: "10" });
    await customer.getByRole("link", { name: `Mug ${tag}` }).waitFor({ state: "detached" });
    await customer.getByRole("button", { name: named("Add to cart", `Kettle ${tag}`) }).click();
    await search(customer, tag, { category });
    await customer.getByRole("link", { name: `Mug ${tag}` }).click();
    await customer.getByRole("heading", { name: `Mug ${tag}` }).waitFor();
    await snapshot(customer, "storefront-product");
    await customer.getByRole("button", { name: named("Add to cart", `Mug ${tag}`) }).click();
    await fillCheckout(customer, "Visa that pays");
    await snapshot(customer, "storefront-cart");
    await customer.getByRole("button", { name: "Place order" }).click();
    await customer.locator(".status", { hasText: "PAID" }).waitFor();
    await snapshot(customer, "storefront-order-paid");
    const orderId = shownOrderId(customer);
    assert.equal(await stockOf(rest, kettle.id), 19);

    await customer.getByRole("link", { name: "Orders" }).click();
    await customer.getByRole("heading", { name: "Your orders" }).waitFor();
    await snapshot(customer, "storefront-history");
    await customer.getByRole("link", { name: `Order ${orderId.slice(0, 8)}` }).click();
    await customer.getByRole("button", { name: "Cancel order" }).click();
    await customer.locator(".status", { hasText: "CANCELLED" }).waitFor();
    await customer.getByText("refunded 34.00 USD").waitFor();
    await snapshot(customer, "storefront-order-cancelled");
    assert.equal(await stockOf(rest, kettle.id), 20, "the stock is back");
    assert.equal(await stockOf(rest, mug.id), 20);
  });

  await t.step("a declined card shows the reason and leaves the stock as it was", async () => {
    await customer.goto(`${stack.url}/#/product/${kettle.id}`);
    await customer.getByRole("button", { name: named("Add to cart", `Kettle ${tag}`) }).click();
    await fillCheckout(customer, "Card that is declined");
    await customer.getByRole("button", { name: "Place order" }).click();
    await customer.locator(".status", { hasText: "FAILED" }).waitFor();
    await customer.getByText(/Reason: .*declined/i).waitFor();
    await snapshot(customer, "storefront-order-declined");
    assert.equal(await stockOf(rest, kettle.id), 20);
    // The account's cart keeps what a failed order did not buy.
    await customer.getByRole("link", { name: "Cart (1)" }).click();
    await customer.getByRole("cell", { name: `Kettle ${tag}`, exact: true }).waitFor();
    await customer.getByLabel(`Quantity of Kettle ${tag}`).fill("0");
    await customer.getByLabel(`Quantity of Kettle ${tag}`).press("Enter");
    await customer.getByText("Your cart is empty.").waitFor();
    await customer.getByRole("link", { name: "Cart (0)" }).waitFor();
  });

  await t.step("an API error shows next to the field it names; a reload signs in silently", async () => {
    await customer.goto(`${stack.url}/#/product/${mug.id}`);
    await customer.getByRole("button", { name: named("Add to cart", `Mug ${tag}`) }).click();
    await fillCheckout(customer, "Visa that pays");
    const country = customer.getByLabel("Country code (2 letters)");
    await country.fill("gbr");
    await customer.getByRole("button", { name: "Place order" }).click();
    await customer.locator("#field-country-error").waitFor();
    assert.equal(await country.getAttribute("aria-invalid"), "true");
    await snapshot(customer, "storefront-field-error");

    await customer.reload();
    await customer.getByRole("heading", { name: "Cart" }).waitFor();
    await customer.getByRole("button", { name: "Sign out" }).waitFor();
    await fillCheckout(customer, "Visa that pays");
    await customer.getByRole("button", { name: "Place order" }).click();
    await customer.locator(".status", { hasText: "PAID" }).waitFor();
  });

  await t.step("a double-clicked checkout places one order", async () => {
    const before = (await ordersOf(customerTokens.accessToken)).length;
    await customer.goto(`${stack.url}/#/product/${mug.id}`);
    await customer.getByRole("button", { name: named("Add to cart", `Mug ${tag}`) }).click();
    await fillCheckout(customer, "Visa that pays");
    await customer.getByRole("button", { name: "Place order" }).dblclick();
    await customer.locator(".status", { hasText: "PAID" }).waitFor();
    assert.equal((await ordersOf(customerTokens.accessToken)).length, before + 1);
  });

  await t.step(
    "an answer lost after it reached the gateway is retried with the same requestId: one order, one charge",
    async () => {
      const before = (await ordersOf(customerTokens.accessToken)).length;
      let dropped = 0;
      await customer.route("**/shop.cart.v1.CartService/Checkout", async (route) => {
        if (dropped > 0) return await route.continue();
        dropped++;
        // The request reaches the gateway and the order is placed; the browser never hears back.
        const response = await route.fetch();
        await response.body();
        await route.abort("connectionreset");
      });
      await customer.goto(`${stack.url}/#/product/${mug.id}`);
      await customer.getByRole("button", { name: named("Add to cart", `Mug ${tag}`) }).click();
      await fillCheckout(customer, "Visa that pays");
      await customer.getByRole("button", { name: "Place order" }).click();
      await customer.locator(".status", { hasText: "PAID" }).waitFor();
      await customer.unroute("**/shop.cart.v1.CartService/Checkout");
      assert.equal(dropped, 1);
      const orderId = shownOrderId(customer);
      assert.equal((await ordersOf(customerTokens.accessToken)).length, before + 1, "one order");
      const charges = (await intentsOf(stack, orderId)).filter((intent) => intent.status === "succeeded");
      assert.equal(charges.length, 1, "the Stripe simulator holds one charge");
    },
  );

  await t.step("a processing payment shows waiting, then PAID without a reload", async () => {
    await customer.goto(`${stack.url}/#/product/${kettle.id}`);
    await customer.getByRole("button", { name: named("Add to cart", `Kettle ${tag}`) }).click();
    await fillCheckout(customer, "Card whose payment takes a while");
    await customer.getByRole("button", { name: "Place order" }).click();
    await customer.locator(".status", { hasText: "waiting for the payment" }).waitFor();
    await snapshot(customer, "storefront-order-waiting");
    const navigations: string[] = [];
    customer.on("framenavigated", (frame) => navigations.push(frame.url()));
    await customer.locator(".status", { hasText: "PAID" }).waitFor({ timeout: 45_000 });
    assert.deepEqual(navigations, [], "the page was not reloaded");
  });

  await t.step(
    "an admin creates a product, a customer orders it, the admin ships, delivers and refunds part",
    async () => {
      const { page: console } = await newVisitor(browser);
      await console.goto(`${stack.url}/admin`);
      await console.getByLabel("Email").fill(stack.admin.email);
      await console.getByLabel("Password").fill(stack.admin.password);
      await snapshot(console, "admin-sign-in");
      await console.getByRole("button", { name: "Sign in" }).click();
      await console.getByRole("heading", { name: "Products" }).waitFor();
      const name = `Teapot ${tag}`;
      await console.getByLabel("Sku").fill(`TEA-${tag}`);
      await console.getByLabel("Name", { exact: true }).fill(name);
      await console.getByLabel("Description").fill("Brews tea");
      await console.getByLabel("Category").fill(category);
      await console.getByLabel("Price (USD)").fill("40.00");
      await console.getByLabel("Stock").fill("3");
      await console.getByRole("button", { name: "Create product" }).click();
      await console.getByRole("cell", { name, exact: true }).waitFor();
      await snapshot(console, "admin-products");
      const teapot = ok<{ products: Array<{ id: string; name: string }> }>(
        await rest("GET", `/v1/products?category=${category}&pageSize=50`),
        "list the category",
      ).products.find((product) => product.name === name);
      assert.ok(teapot !== undefined, "the new product is in the catalog");
      await console.getByRole("button", { name: named("Edit", name) }).click();
      const edit = console.getByRole("form", { name: `Edit ${name}` });
      await edit.getByLabel("Stock").fill("5");
      await snapshot(console, "admin-product-edit");
      await edit.getByRole("button", { name: "Save changes" }).click();
      await edit.waitFor({ state: "detached" });
      assert.equal(await stockOf(rest, teapot.id), 5, "the stock is updated (update mask: stock)");

      // A picture: a plain-http address is refused under its field; a /images/ path is kept.
      await console.getByRole("button", { name: named("Edit", name) }).click();
      const picture = edit.getByLabel(/^Picture \(/);
      await picture.fill("http://pictures.example.com/teapot.png");
      await edit.getByLabel("Alt text of the picture (what it shows)").fill(`${name}, drawn`);
      await edit.getByRole("button", { name: "Save changes" }).click();
      await edit.locator(`#field-${teapot.id}-uri-error`).waitFor();
      assert.equal(await picture.getAttribute("aria-invalid"), "true");
      await snapshot(console, "admin-product-picture-error");
      await picture.fill(pictureOf("KT-KETTLE"));
      await edit.getByRole("button", { name: "Save changes" }).click();
      await edit.waitFor({ state: "detached" });
      const { product: pictured } = ok<{ product: { images: Array<{ uri: string; altText: string }> } }>(
        await rest("GET", `/v1/products/${teapot.id}`),
        "the teapot",
      );
      assert.deepEqual(pictured.images, [{ uri: pictureOf("KT-KETTLE"), altText: `${name}, drawn` }]);
      await console.getByRole("button", { name: named("Delete", `Mug ${tag}`) }).click();
      await console.getByRole("cell", { name: `Mug ${tag}`, exact: true }).waitFor({ state: "detached" });
      expectError(await rest("GET", `/v1/products/${mug.id}`), 404, 5, "the deleted product");

      await customer.goto(`${stack.url}/`);
      await search(customer, "Teapot", { category });
      await customer.getByRole("img", { name: `${name}, drawn` }).waitFor();
      await customer.getByRole("button", { name: named("Add to cart", `${name}`) }).click();
      await fillCheckout(customer, "Visa that pays");
      await customer.getByRole("button", { name: "Place order" }).click();
      await customer.locator(".status", { hasText: "PAID" }).waitFor();
      const orderId = shownOrderId(customer);
      const short = orderId.slice(0, 8);

      await console.getByRole("link", { name: "Orders" }).click();
      await console.getByRole("heading", { name: "Orders" }).waitFor();
      await snapshot(console, "admin-orders");
      await console.getByRole("button", { name: named("Ship", `order ${short}`) }).click();
      await console.getByRole("button", { name: named("Mark delivered", `order ${short}`) }).click();
      await console.getByRole("row", { name: new RegExp(`${short}.*DELIVERED`) }).waitFor();
      await console.getByRole("link", { name: short }).click();
      await console.getByText("left to refund 40.00 USD").waitFor();
      await console.getByLabel(/Refund amount/).fill("15.00");
      await console.getByRole("button", { name: "Refund" }).click();
      await console.getByText("left to refund 25.00 USD").waitFor();
      await snapshot(console, "admin-refund");
      const [payment] = await paymentsOf(rest, admin.accessToken, orderId);
      assert.equal(payment?.refundedAmount?.amountMinor, "1500");

      await console.getByRole("link", { name: "Users" }).click();
      await console.getByRole("cell", { name: account.email }).waitFor();
      await snapshot(console, "admin-users");

      await customer.goto(`${stack.url}/admin`);
      await customer.getByRole("heading", { name: "Not allowed" }).waitFor();
      await snapshot(customer, "admin-not-allowed");
    },
  );

  await t.step("signing out forgets the session, also after a reload", async () => {
    await customer.goto(`${stack.url}/`);
    await customer.getByRole("button", { name: "Sign out" }).click();
    await customer.getByRole("link", { name: "Sign in" }).waitFor();
    await customer.reload();
    await customer.getByRole("link", { name: "Sign in" }).waitFor();
    await customer.goto(`${stack.url}/#/orders`);
    await customer.getByRole("heading", { name: "Sign in" }).waitFor();
  });

  await t.step("a cart kept in the browser moves into the account's at sign-in; pictures show", async () => {
    const tokens = await signIn(rest, account.email, account.password);
    ok(
      await rest("POST", "/v1/cart/items", {
        token: tokens.accessToken,
        body: { productId: kettle.id, quantity: 2 },
      }),
      "the account's cart holds two kettles",
    );
    const dune = ok<{ products: Array<{ id: string; sku: string }> }>(
      await rest("GET", "/v1/products?query=Dune&category=books"),
      "find the demo book",
    ).products.find((product) => product.sku === "BK-DUNE");
    assert.ok(dune !== undefined, "the demo catalog is seeded");

    await customer.goto(`${stack.url}/`);
    await customer.getByRole("link", { name: "Sign in" }).waitFor();
    await search(customer, "Dune", { category: "books" });
    const picture = customer.getByRole("img", { name: "Dune: a drawing of a closed book" });
    await picture.waitFor();
    const loaded = `[...document.querySelectorAll("img.picture")]
      .every((img) => img.complete && img.naturalWidth > 0)`;
    assert.equal(
      await customer.evaluate(loaded),
      true,
      "pictures load under the page's Content-Security-Policy",
    );
    await customer.getByRole("button", { name: named("Add to cart", "Dune") }).click();
    await customer.getByRole("link", { name: "Cart (1)" }).waitFor();
    await customer.goto(`${stack.url}/#/product/${kettle.id}`);
    await customer.getByRole("button", { name: named("Add to cart", `Kettle ${tag}`) }).click();
    await customer.getByRole("link", { name: "Cart (2)" }).click();
    await customer.getByText("Kept in this browser until you sign in").waitFor();
    await snapshot(customer, "storefront-browser-cart");

    await customer.goto(`${stack.url}/#/signin`);
    await customer.getByLabel("Email").fill(account.email);
    await customer.getByLabel("Password").fill(account.password);
    await customer.getByRole("button", { name: "Sign in" }).click();
    await customer.getByRole("link", { name: "Cart (4)" }).click();
    await customer.getByText("Kept in your account").waitFor();
    assert.equal(await customer.getByLabel(`Quantity of Kettle ${tag}`).inputValue(), "3", "lines add up");
    assert.equal(await customer.getByLabel("Quantity of Dune").inputValue(), "1");
    await snapshot(customer, "storefront-account-cart");
    const { cart } = ok<{ cart: { items: Array<{ productId: string; quantity: number }> } }>(
      await rest("GET", "/v1/cart", { token: tokens.accessToken }),
      "the account's cart",
    );
    assert.deepEqual(
      cart.items.map((item) => [item.productId, item.quantity]).sort(),
      [[kettle.id, 3], [dune.id, 1]].sort(),
    );

    await customer.goto(`${stack.url}/#/product/${dune.id}`);
    await customer.getByRole("heading", { name: "Dune" }).waitFor();
    await customer.getByRole("list", { name: "Pictures" }).getByRole("img", { name: /^Dune: / }).waitFor();
    await customer.getByRole("button", { name: "Sign out" }).click();
    await customer.getByRole("link", { name: "Cart (0)" }).waitFor();
    await customer.goto(`${stack.url}/#/signin`);
    await customer.getByLabel("Email").fill(account.email);
    await customer.getByLabel("Password").fill(account.password);
    await customer.getByRole("button", { name: "Sign in" }).click();
    await customer.getByRole("link", { name: "Cart (4)" }).waitFor();
  });

  assert.deepEqual(
    customerErrors.filter((e) => !/Failed to load resource|net::ERR_CONNECTION_RESET/.test(e)),
    [],
  );
});
