import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { inMemoryTransport } from "@shop/platform/server";
import { BadRequestSchema, ErrorInfoSchema } from "@shop/proto/google";
import { InventoryService, type Product, ReservationStatus } from "@shop/proto/product";
import {
  as,
  asAdmin,
  createProductFixture,
  type ProductFixture,
  testReservationTtlMs,
} from "../testdata/fixtures.ts";
import { inventoryAllowedPeers, productRoutes } from "./product_routes.ts";
import { failure } from "@shop/platform/testing";

function fieldsOf(error: ConnectError): string[] {
  return error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
}

const kettle = {
  sku: "KT-1",
  name: "Kettle",
  description: "Boils water.",
  category: "kitchen",
  price: { currencyCode: "USD", amountMinor: 2_500n },
  stock: 5,
};

async function create(f: ProductFixture, overrides: Partial<typeof kettle> = {}): Promise<Product> {
  const { product } = await f.products.createProduct({ product: { ...kettle, ...overrides } }, asAdmin);
  assert.ok(product);
  return product;
}

Deno.test("admins create, change and delete products; anyone reads them", async () => {
  const f = createProductFixture();
  const created = await create(f);
  assert.equal(created.price?.amountMinor, 2_500n);
  assert.equal(created.stock, 5);
  assert.deepEqual((await f.products.getProduct({ id: created.id })).product, created);
  const changed = await f.products.updateProduct(
    {
      product: {
        id: created.id,
        name: "Tea kettle",
        stock: 9,
        price: { currencyCode: "EUR", amountMinor: 1n },
      },
      updateMask: { paths: ["name", "stock"] },
    },
    asAdmin,
  );
  assert.equal(changed.product?.name, "Tea kettle");
  assert.equal(changed.product?.stock, 9);
  assert.equal(changed.product?.price?.currencyCode, "USD", "fields outside the mask stay as they were");
  await f.products.deleteProduct({ id: created.id }, asAdmin);
  assert.equal((await failure(f.products.getProduct({ id: created.id }))).code, Code.NotFound);
  assert.equal((await failure(f.products.deleteProduct({ id: created.id }, asAdmin))).code, Code.NotFound);
});

Deno.test("writes are for admins only", async () => {
  const f = createProductFixture();
  const created = await create(f);
  assert.equal((await failure(f.products.createProduct({ product: kettle }))).code, Code.Unauthenticated);
  assert.equal(
    (await failure(f.products.createProduct({ product: kettle }, as("u-1")))).code,
    Code.PermissionDenied,
  );
  assert.equal(
    (await failure(
      f.products.updateProduct(
        { product: { id: created.id, stock: 0 }, updateMask: { paths: ["stock"] } },
        as("u-1"),
      ),
    )).code,
    Code.PermissionDenied,
  );
  assert.equal(
    (await failure(f.products.deleteProduct({ id: created.id }, as("u-1")))).code,
    Code.PermissionDenied,
  );
  assert.equal((await f.products.getProduct({ id: created.id })).product?.stock, 5);
});

Deno.test("CreateProduct with a request id returns the first product on retry; a used SKU is ALREADY_EXISTS", async () => {
  const f = createProductFixture();
  const [first, second] = await Promise.all([
    f.products.createProduct({ product: kettle, requestId: "req-1" }, asAdmin),
    f.products.createProduct({ product: kettle, requestId: "req-1" }, asAdmin),
  ]);
  assert.equal(first.product?.id, second.product?.id);
  const again = await failure(f.products.createProduct({ product: kettle, requestId: "req-2" }, asAdmin));
  assert.equal(again.code, Code.AlreadyExists);
  assert.equal(again.findDetails(ErrorInfoSchema)[0]?.reason, "ALREADY_EXISTS");
  assert.equal((await f.products.listProducts({})).products.length, 1);
});

Deno.test("bad product input is INVALID_ARGUMENT naming the field, and nothing is written", async () => {
  const f = createProductFixture();
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ price: { currencyCode: "USD", amountMinor: -1n } }, "product.price.amount_minor"],
    [{ price: { currencyCode: "USD", amountMinor: 0n } }, "product.price.amount_minor"],
    [{ price: { currencyCode: "USD", amountMinor: 100_000_000_001n } }, "product.price.amount_minor"],
    [{ price: { currencyCode: "usd", amountMinor: 100n } }, "product.price.currency_code"],
    [{ stock: -1 }, "product.stock"],
    [{ stock: 1_000_001 }, "product.stock"],
    [{ name: "x".repeat(201) }, "product.name"],
    [{ name: "   " }, "product.name"],
    [{ name: "bell\u0007" }, "product.name"],
    [{ description: "d".repeat(5001) }, "product.description"],
    [{ sku: "$ne" }, "product.sku"],
    [{ sku: "" }, "product"],
    [{ category: "Kitchen" }, "product.category"],
  ];
  for (const [overrides, field] of cases) {
    const error = await failure(f.products.createProduct({ product: { ...kettle, ...overrides } }, asAdmin));
    assert.equal(error.code, Code.InvalidArgument, `${field}: ${error.message}`);
    assert.ok(
      fieldsOf(error).some((v) => v.startsWith(field)),
      `expected ${field} among ${fieldsOf(error).join(", ")}`,
    );
  }
  const created = await create(f);
  for (const paths of [[], ["id"], ["create_time"], ["stock", "nope"]]) {
    const error = await failure(
      f.products.updateProduct({ product: { id: created.id, stock: 1 }, updateMask: { paths } }, asAdmin),
    );
    assert.equal(error.code, Code.InvalidArgument);
    assert.ok(fieldsOf(error).includes("update_mask"));
  }
  const badPrice = await failure(
    f.products.updateProduct({ product: { id: created.id }, updateMask: { paths: ["price"] } }, asAdmin),
  );
  assert.ok(fieldsOf(badPrice).some((v) => v.startsWith("product.price")));
  assert.equal((await failure(f.products.getProduct({ id: "x".repeat(65) }))).code, Code.InvalidArgument);
  assert.equal((await failure(f.products.getProduct({ id: '{"$ne":null}' }))).code, Code.InvalidArgument);
  assert.equal(
    (await failure(
      f.products.updateProduct({
        product: { id: crypto.randomUUID(), name: "x" },
        updateMask: { paths: ["name"] },
      }, asAdmin),
    )).code,
    Code.NotFound,
  );
  const [only] = (await f.products.listProducts({})).products;
  assert.deepEqual(only, created, "nothing else was written");
});

Deno.test("admins set a product's images with the update mask; reads show them, other fields stay", async () => {
  const f = createProductFixture();
  const created = await create(f);
  assert.deepEqual(created.images, []);
  const images = [
    { uri: "/images/kt-1-0123456789ab.svg", altText: "A steel kettle" },
    { uri: "https://cdn.example.com/kettle/side.png?w=400", altText: "The kettle from the side" },
  ];
  const changed = await f.products.updateProduct(
    { product: { id: created.id, name: "ignored", images }, updateMask: { paths: ["images"] } },
    asAdmin,
  );
  assert.deepEqual(changed.product?.images.map(({ uri, altText }) => ({ uri, altText })), images);
  assert.equal(changed.product?.name, "Kettle", "fields outside the mask stay as they were");
  const read = (await f.products.getProduct({ id: created.id })).product;
  assert.deepEqual(read?.images.map((image) => image.altText), [
    "A steel kettle",
    "The kettle from the side",
  ]);
  const [listed] = (await f.products.listProducts({ query: "kettle" })).products;
  assert.deepEqual(listed?.images, read?.images, "the catalog view shows the new images at once");

  const stockOnly = await f.products.updateProduct(
    { product: { id: created.id, stock: 2 }, updateMask: { paths: ["stock"] } },
    asAdmin,
  );
  assert.equal(stockOnly.product?.images.length, 2, "a mask without images keeps them");
  const cleared = await f.products.updateProduct(
    { product: { id: created.id }, updateMask: { paths: ["images"] } },
    asAdmin,
  );
  assert.deepEqual(cleared.product?.images, []);
  assert.deepEqual((await f.products.getProduct({ id: created.id })).product?.images, []);

  const withImage = await f.products.createProduct({
    product: { ...kettle, sku: "KT-2", images: [{ uri: "/images/kt-2.svg", altText: "Kettle two" }] },
  }, asAdmin);
  assert.equal(withImage.product?.images[0]?.uri, "/images/kt-2.svg", "a create takes images too");
});

Deno.test("bad images are INVALID_ARGUMENT naming the field, and nothing is written", async () => {
  const f = createProductFixture();
  const created = await create(f);
  const good = { uri: "/images/a.svg", altText: "A" };
  const cases: Array<[Array<{ uri: string; altText: string }>, string]> = [
    [[{ uri: "http://example.com/a.png", altText: "A" }], "product.images[0].uri"],
    [[{ uri: "javascript:alert(1)", altText: "A" }], "product.images[0].uri"],
    [[{ uri: "/assets/a.svg", altText: "A" }], "product.images[0].uri"],
    [[{ uri: "/images/../admin.html", altText: "A" }], "product.images[0].uri"],
    [[{ uri: "", altText: "A" }], "product.images[0].uri"],
    [[{ uri: `https://example.com/${"a".repeat(2048)}`, altText: "A" }], "product.images[0].uri"],
    [[good, { uri: "/images/b.svg", altText: "" }], "product.images[1].alt_text"],
    [[{ uri: "/images/b.svg", altText: "x".repeat(301) }], "product.images[0].alt_text"],
    [Array.from({ length: 9 }, () => good), "product.images"],
  ];
  for (const [images, field] of cases) {
    for (
      const call of [
        () =>
          f.products.updateProduct(
            { product: { id: created.id, images }, updateMask: { paths: ["images"] } },
            asAdmin,
          ),
        () => f.products.createProduct({ product: { ...kettle, sku: "KT-9", images } }, asAdmin),
      ]
    ) {
      const error = await failure(call());
      assert.equal(error.code, Code.InvalidArgument, `${field}: ${error.message}`);
      assert.ok(fieldsOf(error).includes(field), `expected ${field} among ${fieldsOf(error).join(", ")}`);
    }
  }
  assert.deepEqual((await f.products.getProduct({ id: created.id })).product?.images, []);
  assert.equal((await f.products.listProducts({})).products.length, 1, "nothing else was written");
});

Deno.test("ListProducts filters, pages with opaque tokens and refuses bad tokens and sizes", async () => {
  const f = createProductFixture();
  const a = await create(f, {
    sku: "A",
    name: "Blue kettle",
    price: { currencyCode: "USD", amountMinor: 1_000n },
  });
  const b = await create(f, {
    sku: "B",
    name: "Mug",
    description: "A BLUE mug (large)",
    price: { currencyCode: "USD", amountMinor: 500n },
  });
  const c = await create(f, {
    sku: "C",
    name: "Dune",
    category: "books",
    price: { currencyCode: "USD", amountMinor: 2_000n },
  });
  const ids = async (request: Parameters<typeof f.products.listProducts>[0]) =>
    (await f.products.listProducts(request)).products.map((p) => p.id);
  assert.deepEqual(await ids({ category: "kitchen" }), [a.id, b.id]);
  assert.deepEqual(await ids({ minPriceMinor: 600n }), [a.id, c.id]);
  assert.deepEqual(await ids({ maxPriceMinor: 1_000n }), [a.id, b.id]);
  assert.deepEqual(
    await ids({ minPriceMinor: 600n, maxPriceMinor: 0n }),
    [a.id, c.id],
    "0 is no upper bound",
  );
  assert.deepEqual(await ids({ query: "blue" }), [a.id, b.id]);
  assert.deepEqual(await ids({ query: "(large)" }), [b.id]);
  assert.deepEqual(await ids({ query: ".*" }), []);

  const first = await f.products.listProducts({ pageSize: 2 });
  assert.deepEqual(first.products.map((p) => p.id), [a.id, b.id]);
  const second = await f.products.listProducts({ pageSize: 2, pageToken: first.nextPageToken });
  assert.deepEqual(second.products.map((p) => p.id), [c.id]);
  assert.equal(second.nextPageToken, "");

  const refusals: Array<[Parameters<typeof f.products.listProducts>[0], string]> = [
    [{ pageToken: "forged" }, "page_token"],
    [{ pageToken: "eyJ0IjoxLCJpZCI6IngifQ" }, "page_token"],
    [{ pageToken: first.nextPageToken, category: "books" }, "page_token"],
    [{ pageSize: 101 }, "page_size"],
    [{ pageSize: -1 }, "page_size"],
    [{ minPriceMinor: 2_000n, maxPriceMinor: 1_000n }, "max_price_minor"],
    [{ minPriceMinor: -5n }, "min_price_minor"],
    [{ query: "q".repeat(101) }, "query"],
    [{ query: "a b c d e f g h i" }, "query"],
    [{ category: '{"$ne":1}' }, "category"],
  ];
  for (const [request, field] of refusals) {
    const error = await failure(f.products.listProducts(request));
    assert.equal(error.code, Code.InvalidArgument, field);
    assert.ok(fieldsOf(error).includes(field), `expected ${field} among ${fieldsOf(error).join(", ")}`);
  }
});

Deno.test("ReserveStock reserves all items or none, priced from the catalog", async () => {
  const f = createProductFixture();
  const a = await create(f, { sku: "A", stock: 5 });
  const b = await create(f, { sku: "B", stock: 1, price: { currencyCode: "USD", amountMinor: 999n } });
  const short = await failure(f.stock.reserveStock({
    orderId: crypto.randomUUID(),
    items: [{ productId: a.id, quantity: 2 }, { productId: b.id, quantity: 2 }],
  }));
  assert.equal(short.code, Code.FailedPrecondition);
  const info = short.findDetails(ErrorInfoSchema)[0];
  assert.equal(info?.reason, "OUT_OF_STOCK");
  assert.equal(info?.metadata.product_ids, b.id);
  assert.equal((await f.products.getProduct({ id: a.id })).product?.stock, 5, "nothing was taken");

  const orderId = crypto.randomUUID();
  const { reservation } = await f.stock.reserveStock({
    orderId,
    items: [{ productId: a.id, quantity: 2 }, { productId: b.id, quantity: 1 }],
  });
  assert.equal(reservation?.status, ReservationStatus.RESERVED);
  assert.deepEqual(
    reservation?.items.map((i) => [i.productId, i.name, i.unitPrice?.amountMinor, i.quantity]),
    [[a.id, "Kettle", 2_500n, 2], [b.id, "Kettle", 999n, 1]],
  );
  assert.deepEqual(
    [
      (await f.products.getProduct({ id: a.id })).product?.stock,
      (await f.products.getProduct({ id: b.id })).product?.stock,
    ],
    [3, 0],
  );
  const unknown = await failure(
    f.stock.reserveStock({ orderId: crypto.randomUUID(), items: [{ productId: "nope", quantity: 1 }] }),
  );
  assert.equal(unknown.code, Code.NotFound);
  const duplicate = await failure(f.stock.reserveStock({
    orderId: crypto.randomUUID(),
    items: [{ productId: a.id, quantity: 1 }, { productId: a.id, quantity: 1 }],
  }));
  assert.deepEqual(fieldsOf(duplicate), ["items[1].product_id"]);
  for (const quantity of [0, -1, 1001]) {
    const error = await failure(
      f.stock.reserveStock({ orderId: crypto.randomUUID(), items: [{ productId: a.id, quantity }] }),
    );
    assert.equal(error.code, Code.InvalidArgument);
  }
  assert.equal(
    (await failure(
      f.stock.reserveStock({ orderId: "not-a-uuid", items: [{ productId: a.id, quantity: 1 }] }),
    )).code,
    Code.InvalidArgument,
  );
  assert.equal((await f.products.getProduct({ id: a.id })).product?.stock, 3);
});

Deno.test("repeated reserve, commit and release calls for one order change stock once", async () => {
  const f = createProductFixture();
  const a = await create(f, { stock: 5 });
  const orderId = crypto.randomUUID();
  const items = [{ productId: a.id, quantity: 2 }];
  const first = await f.stock.reserveStock({ orderId, items });
  assert.deepEqual(await f.stock.reserveStock({ orderId, items }), first);
  assert.equal(
    (await failure(f.stock.reserveStock({ orderId, items: [{ productId: a.id, quantity: 3 }] }))).code,
    Code.InvalidArgument,
  );
  const stockOf = async () => (await f.products.getProduct({ id: a.id })).product?.stock;
  assert.equal(await stockOf(), 3);
  assert.equal(
    (await f.stock.commitReservation({ orderId })).reservation?.status,
    ReservationStatus.COMMITTED,
  );
  assert.equal(
    (await f.stock.commitReservation({ orderId })).reservation?.status,
    ReservationStatus.COMMITTED,
  );
  assert.equal(await stockOf(), 3);
  assert.equal(
    (await f.stock.releaseReservation({ orderId, reason: "order cancelled" })).reservation?.status,
    ReservationStatus.RELEASED,
  );
  assert.equal(
    (await f.stock.releaseReservation({ orderId })).reservation?.status,
    ReservationStatus.RELEASED,
  );
  assert.equal(await stockOf(), 5, "a cancelled paid order returns its units, once");
  const late = await failure(f.stock.commitReservation({ orderId }));
  assert.equal(late.code, Code.FailedPrecondition);
  assert.equal(late.findDetails(ErrorInfoSchema)[0]?.reason, "INVALID_STATE");

  const unknown = crypto.randomUUID();
  const released = await f.stock.releaseReservation({ orderId: unknown });
  assert.deepEqual([released.reservation?.orderId, released.reservation?.status], [
    unknown,
    ReservationStatus.RELEASED,
  ]);
  assert.equal((await failure(f.stock.commitReservation({ orderId: unknown }))).code, Code.NotFound);
});

Deno.test("an expired reservation returns its stock and can no longer be committed", async () => {
  const f = createProductFixture();
  const a = await create(f, { stock: 2 });
  const orderId = crypto.randomUUID();
  await f.stock.reserveStock({ orderId, items: [{ productId: a.id, quantity: 2 }] });
  assert.equal((await f.inventory.sweep()).expired, 0);
  f.advance(testReservationTtlMs + 1_000);
  assert.equal((await f.inventory.sweep()).expired, 1);
  assert.equal((await f.products.getProduct({ id: a.id })).product?.stock, 2);
  assert.equal((await failure(f.stock.commitReservation({ orderId }))).code, Code.FailedPrecondition);
  assert.equal(
    (await f.stock.releaseReservation({ orderId })).reservation?.status,
    ReservationStatus.EXPIRED,
  );
  assert.equal((await f.products.getProduct({ id: a.id })).product?.stock, 2);
});

Deno.test("only the order service may call InventoryService", async () => {
  const f = createProductFixture();
  const a = await create(f, { stock: 2 });
  for (const peer of ["gateway", "payment", "user"]) {
    const stock = createClient(
      InventoryService,
      inMemoryTransport(productRoutes(f.catalog, f.inventory), { allowedPeers: inventoryAllowedPeers, peer }),
    );
    const error = await failure(
      stock.reserveStock(
        { orderId: crypto.randomUUID(), items: [{ productId: a.id, quantity: 1 }] },
        asAdmin,
      ),
    );
    assert.equal(error.code, Code.PermissionDenied, peer);
  }
  assert.equal((await f.products.getProduct({ id: a.id })).product?.stock, 2);
});
