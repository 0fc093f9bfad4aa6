/**
 * The one contract every {@linkcode ProductStore} adapter must meet; each adapter's test file runs it.
 *
 * @module
 */
import { contractTest, delay, type StoreFixture as KitStoreFixture } from "@shop/platform/testing";
import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import type { ProductFilter, ProductStore, StockMove } from "../domain/ports.ts";
import type { Product } from "../domain/product.ts";
import type { ReservedLine } from "../domain/reservation.ts";
import { CatalogView } from "../domain/catalog_view.ts";
import { ReservationBook } from "../domain/reservation_book.ts";
import { StockLog } from "../domain/stock_log.ts";

/** A fresh, empty store for one test, and how to throw it away. */
export type StoreFixture = KitStoreFixture<ProductStore>;

let clock = Date.parse("2026-01-01T00:00:00Z");
function tick(): Date {
  clock += 1000;
  return new Date(clock);
}

/**
 * A product to store, with defaults for what a test does not care about.
 *
 * @example
 * ```ts
 * const kettle = newProduct({ name: "Kettle", stock: 3 });
 * ```
 */
export function newProduct(overrides: Partial<Product> = {}): Product {
  const now = tick();
  const id = crypto.randomUUID();
  return {
    id,
    sku: `SKU-${id.slice(0, 8)}`,
    name: "Kettle",
    description: "Boils water.",
    category: "kitchen",
    price: { currencyCode: "USD", amountMinor: 2_500n },
    stock: 10,
    images: [],
    createTime: now,
    updateTime: now,
    ...overrides,
  };
}

function line(product: Product, quantity: number): ReservedLine {
  return { productId: product.id, name: product.name, unitPrice: product.price, quantity };
}

function reservationOf(lines: ReservedLine[], ttlMs = 60_000) {
  const now = tick();
  return { orderId: crypto.randomUUID(), lines, now, expireTime: new Date(now.getTime() + ttlMs) };
}

/** The domain's rules over a store, one set per store (as one instance of the service has). */
const rulesOf = new WeakMap<ProductStore, { book: ReservationBook; stock: StockLog; view: CatalogView }>();
function rules(store: ProductStore): { book: ReservationBook; stock: StockLog; view: CatalogView } {
  let found = rulesOf.get(store);
  if (!found) {
    const stock = new StockLog(store);
    found = { book: new ReservationBook(store, stock), stock, view: new CatalogView(store) };
    rulesOf.set(store, found);
  }
  return found;
}

/** Creates a product as the catalog does: stored, then recorded in the change log for every view. */
async function create(store: ProductStore, product: Product, view = rules(store).view): Promise<void> {
  const outcome = await store.createProduct(product);
  await view.record(product.id, outcome.product, product.updateTime);
}

/** The book of reservations over a store. */
function book(store: ProductStore): ReservationBook {
  return rules(store).book;
}

/** Sets a product's stock as an admin's update does; undefined for an unknown product. */
async function setStock(
  store: ProductStore,
  id: string,
  stock: number,
  now: Date,
): Promise<Product | undefined> {
  if (!await store.findProduct(id)) return undefined;
  await rules(store).stock.set(id, stock, now);
  return await store.updateProduct(id, {}, now);
}

function move(productId: string, seq: number, opKey: string, stock = 5): StockMove {
  return { productId, seq, stock, delta: -1, kind: "take", opKey, orderId: "o-1", time: tick() };
}

async function kindOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    if (error instanceof DomainError) return error.kind;
    throw error;
  }
}

/**
 * Registers the contract's tests for one adapter.
 *
 * @example
 * ```ts
 * import { MemoryProductStore } from "./memory_product_store.ts";
 * productStoreContract("MemoryProductStore", () =>
 *   Promise.resolve({ store: new MemoryProductStore(), cleanup: async () => {} }));
 * ```
 */
export function productStoreContract(name: string, fixture: () => Promise<StoreFixture>): void {
  const test = contractTest(name, fixture);

  test("a created product is found by id with its price as bigint minor units", async (store) => {
    const kettle = newProduct({ price: { currencyCode: "EUR", amountMinor: 99_999_999_999n } });
    assert.deepEqual(await store.createProduct(kettle), { created: true, product: kettle });
    assert.deepEqual(await store.findProduct(kettle.id), kettle);
    assert.deepEqual(await store.findProducts([kettle.id, crypto.randomUUID()]), [kettle]);
    assert.equal(await store.findProduct(crypto.randomUUID()), undefined);
  });

  test("a used SKU is ALREADY_EXISTS; a used id returns the first product unchanged", async (store) => {
    const kettle = newProduct();
    await store.createProduct(kettle);
    assert.equal(await kindOf(store.createProduct(newProduct({ sku: kettle.sku }))), "already_exists");
    const retry = await store.createProduct({ ...kettle, name: "Other" });
    assert.deepEqual(retry, { created: false, product: kettle });
  });

  test("concurrent creates of one SKU store exactly one product", async (store) => {
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => kindOf(store.createProduct(newProduct({ sku: "RACE-1" })))),
    );
    assert.deepEqual(outcomes.sort(), [
      "already_exists",
      "already_exists",
      "already_exists",
      "already_exists",
      "already_exists",
      "ok",
    ]);
  });

  test("a move is stored once per position and once per operation, even when writers race", async (store) => {
    const kettle = newProduct({ stock: 7 });
    await store.createProduct(kettle);
    assert.deepEqual(
      await store.stockLevel(kettle.id),
      { seq: 0, stock: 7 },
      "before any move: the initial stock",
    );
    assert.equal(await store.stockLevel(crypto.randomUUID()), undefined);
    const first = move(kettle.id, 1, "op-1", 6);
    assert.equal(await store.insertMove(first), true);
    assert.deepEqual(await store.findMove(kettle.id, 1), first);
    assert.deepEqual(await store.findMoveByOp("op-1"), first);
    assert.equal(await store.insertMove(move(kettle.id, 1, "op-2")), false, "a taken position");
    assert.equal(await store.insertMove(move(kettle.id, 2, "op-1")), false, "an operation done already");
    assert.equal(await store.findMove(kettle.id, 2), undefined);
    assert.equal(await store.findMoveByOp("op-2"), undefined);
    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.insertMove(move(kettle.id, 2, `race-${i}`))),
    );
    assert.equal(racing.filter((won) => won).length, 1, "one writer wins each position");
    await store.saveStockLevel(kettle.id, { seq: 2, stock: 4 });
    assert.deepEqual(await store.stockLevel(kettle.id), { seq: 2, stock: 4 });
    assert.equal((await store.findProduct(kettle.id))?.stock, 4, "reads show the level");
  });

  test("a reservation record and each decision are stored once; the hints find open ones", async (store) => {
    const now = tick();
    const record = {
      orderId: crypto.randomUUID(),
      lines: [line(newProduct(), 2)],
      expireTime: new Date(now.getTime() + 1000),
      createTime: now,
      status: "pending" as const,
      statusSeq: 0,
      updateTime: now,
    };
    assert.equal(await store.insertReservation(record), true);
    assert.equal(await store.insertReservation({ ...record, lines: [] }), false);
    assert.deepEqual(await store.findReservation(record.orderId), record);
    assert.deepEqual((await store.openReservations(10)).map((r) => r.orderId), [record.orderId]);
    assert.equal(await store.latestDecision(record.orderId), undefined);
    const decision = {
      orderId: record.orderId,
      seq: 1,
      status: "released" as const,
      shortProductIds: [],
      time: now,
      done: false,
    };
    const racing = await Promise.all(Array.from({ length: 5 }, () => store.insertDecision(decision)));
    assert.equal(racing.filter((won) => won).length, 1);
    assert.equal(await store.insertDecision({ ...decision, seq: 2, status: "expired" }), true);
    assert.equal((await store.latestDecision(record.orderId))?.status, "expired");
    assert.deepEqual((await store.unfinishedDecisions(10)).map((d) => d.seq).sort(), [1, 2]);
    await store.markDecisionDone(record.orderId, 1);
    assert.deepEqual((await store.unfinishedDecisions(10)).map((d) => d.seq), [2]);
    await store.saveReservationStatus(record.orderId, "expired", 2, tick());
    await store.saveReservationStatus(record.orderId, "released", 1, tick());
    assert.equal(
      (await store.findReservation(record.orderId))?.status,
      "expired",
      "an older hint never wins",
    );
    assert.deepEqual(await store.openReservations(10), []);
  });

  test("updates change only the named fields; a SKU of another product is ALREADY_EXISTS", async (store) => {
    const kettle = newProduct();
    const other = newProduct();
    await store.createProduct(kettle);
    await store.createProduct(other);
    const later = tick();
    const renamed = await store.updateProduct(kettle.id, {
      name: "Tea kettle",
      price: { currencyCode: "USD", amountMinor: 3_000n },
    }, later);
    assert.deepEqual(renamed, {
      ...kettle,
      name: "Tea kettle",
      price: { currencyCode: "USD", amountMinor: 3_000n },
      updateTime: later,
    });
    assert.equal(await kindOf(store.updateProduct(kettle.id, { sku: other.sku }, tick())), "already_exists");
    assert.equal(await store.updateProduct(crypto.randomUUID(), { name: "x" }, tick()), undefined);
    assert.equal((await setStock(store, kettle.id, 42, tick()))?.stock, 42);
    assert.equal((await store.findProduct(kettle.id))?.stock, 42);
    assert.equal(await setStock(store, crypto.randomUUID(), 1, tick()), undefined);
    assert.equal(await store.deleteProduct(kettle.id), true);
    assert.equal(await store.deleteProduct(kettle.id), false);
    assert.equal(await store.findProduct(kettle.id), undefined);
  });

  test("images are stored in order, changed as a whole, and reach every view", async (store) => {
    const images = [
      { uri: "/images/kettle-0123456789ab.svg", altText: "A steel kettle" },
      { uri: "https://cdn.example.com/kettle.png", altText: "The kettle, boiling" },
    ];
    const kettle = newProduct({ images });
    const first = new CatalogView(store);
    const second = new CatalogView(store);
    await Promise.all([first.load(), second.load()]);
    await create(store, kettle, first);
    assert.deepEqual((await store.findProduct(kettle.id))?.images, images);
    assert.deepEqual((await store.findProducts([kettle.id]))[0]?.images, images);
    assert.deepEqual((await second.get(kettle.id))?.images, images, "a new product's images");

    const reordered = [images[1], images[0]].filter((image) => image !== undefined);
    const changed = await store.updateProduct(kettle.id, { images: reordered }, tick());
    assert.deepEqual(changed?.images, reordered);
    assert.equal(changed?.name, kettle.name, "other fields stay");
    await first.record(kettle.id, changed, tick());
    assert.deepEqual((await second.get(kettle.id))?.images, reordered, "a change reaches the other view");
    assert.deepEqual((await second.list({}, 10, undefined)).products[0]?.images, reordered);
    assert.deepEqual(
      (await store.updateProduct(kettle.id, { name: "Tea kettle" }, tick()))?.images,
      reordered,
    );

    const cleared = await store.updateProduct(kettle.id, { images: [] }, tick());
    await second.record(kettle.id, cleared, tick());
    assert.deepEqual((await first.get(kettle.id))?.images, []);
    assert.deepEqual((await new CatalogView(store).get(kettle.id))?.images, [], "a view that starts later");
  });

  test("a catalog view lists by category, price range and literal words in any case", async (store) => {
    const a = newProduct({
      name: "Blue Kettle",
      category: "kitchen",
      price: { currencyCode: "USD", amountMinor: 1_000n },
    });
    const b = newProduct({
      name: "Red kettle",
      description: "Costs (a lot).*",
      category: "kitchen",
      price: { currencyCode: "USD", amountMinor: 5_000n },
    });
    const c = newProduct({
      name: "Dune",
      description: "A novel about a blue planet",
      category: "books",
      price: { currencyCode: "USD", amountMinor: 1_500n },
    });
    for (const p of [a, b, c]) await create(store, p);
    const ids = async (filter: ProductFilter) =>
      (await rules(store).view.list(filter, 100, undefined)).products.map((p) => p.id);
    assert.deepEqual(await ids({}), [a.id, b.id, c.id]);
    assert.deepEqual(await ids({ category: "kitchen" }), [a.id, b.id]);
    assert.deepEqual(await ids({ minPriceMinor: 1_500n }), [b.id, c.id]);
    assert.deepEqual(await ids({ minPriceMinor: 1_000n, maxPriceMinor: 1_500n }), [a.id, c.id]);
    assert.deepEqual(await ids({ words: ["KETTLE"] }), [a.id, b.id]);
    assert.deepEqual(await ids({ words: ["blue"] }), [a.id, c.id]);
    assert.deepEqual(await ids({ words: ["blue", "novel"] }), [c.id]);
    assert.deepEqual(await ids({ words: ["(a lot).*"] }), [b.id], "regex characters match themselves");
    assert.deepEqual(await ids({ words: [".*"] }), [b.id]);
    assert.deepEqual(await ids({ words: ["^"] }), []);
    assert.deepEqual(await ids({ category: "kitchen", words: ["blue"], maxPriceMinor: 2_000n }), [a.id]);
  });

  test("a catalog view pages every product exactly once while others are being inserted", async (store) => {
    const before: string[] = [];
    const view = rules(store).view;
    for (let i = 0; i < 9; i++) {
      const product = newProduct();
      await create(store, product);
      before.push(product.id);
    }
    const seen: string[] = [];
    let page = await view.list({}, 2, undefined);
    seen.push(...page.products.map((p) => p.id));
    while (page.next) {
      // A newer product lands after the cursor, an older-looking one before it: neither disturbs paging.
      await create(store, newProduct());
      await create(store, newProduct({ createTime: new Date(Date.parse("2025-01-01T00:00:00Z")) }));
      page = await view.list({}, 2, page.next);
      seen.push(...page.products.map((p) => p.id));
    }
    assert.equal(new Set(seen).size, seen.length, "no product twice");
    assert.deepEqual(
      seen.filter((id) => before.includes(id)),
      before,
      "every product that existed, in order",
    );
  });

  test("a change recorded through one view is in every other view's next read", async (store) => {
    const first = new CatalogView(store);
    const second = new CatalogView(store);
    await Promise.all([first.load(), second.load()]);
    const kettle = newProduct({ name: "Kettle", stock: 4 });
    await create(store, kettle, first);
    assert.deepEqual(await second.get(kettle.id), kettle, "a new product");
    const renamed = await store.updateProduct(kettle.id, { name: "Tea kettle" }, tick());
    await second.record(kettle.id, renamed, tick());
    assert.equal((await first.get(kettle.id))?.name, "Tea kettle", "a change");
    assert.deepEqual((await first.list({ words: ["tea"] }, 10, undefined)).products.map((p) => p.id), [
      kettle.id,
    ]);
    // Writers racing through both views: every change gets its own number, and both views end equal.
    const more = Array.from({ length: 6 }, () => newProduct());
    await Promise.all(more.map((p, i) => create(store, p, i % 2 ? first : second)));
    await store.deleteProduct(kettle.id);
    await first.record(kettle.id, undefined, tick());
    assert.equal(await second.get(kettle.id), undefined, "a deletion");
    const ids = async (view: CatalogView) => (await view.list({}, 100, undefined)).products.map((p) => p.id);
    assert.deepEqual(await ids(second), await ids(first));
    assert.deepEqual((await ids(first)).sort(), more.map((p) => p.id).sort());
    // A view that starts later reads the catalog as it stands.
    const late = new CatalogView(store);
    assert.deepEqual(await ids(late), await ids(first));
  });

  test("a view with a staleness bound reads the store once per bound, shows its own changes at once and others' after the bound", async (store) => {
    const boundMs = 300;
    /** Waits past the bound (plus a little: timers and the clock the view reads round differently). */
    const pastBound = () => delay(boundMs + 10);
    const calls: string[] = [];
    // The store as this instance uses it, each call counted.
    const counted = new Proxy(store, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(key));
          return Reflect.apply(value, target, args);
        };
      },
    });
    const ownStock = new StockLog(counted);
    const view = new CatalogView(counted, { stalenessMs: boundMs, knownLevel: (id) => ownStock.known(id) });
    const other = { view: new CatalogView(store), stock: new StockLog(store) };
    await Promise.all([view.load(), other.view.load()]);

    const kettle = newProduct({ name: "Kettle", stock: 4 });
    await create(store, kettle, other.view);
    await pastBound();
    assert.deepEqual(await view.get(kettle.id), kettle, "another instance's new product, after the bound");
    calls.length = 0;
    await view.get(kettle.id);
    await view.list({ category: "kitchen" }, 10, undefined);
    assert.deepEqual(calls, [], "reads within the bound are answered from memory");

    const renamed = await store.updateProduct(kettle.id, { name: "Tea kettle" }, tick());
    await other.view.record(kettle.id, renamed, tick());
    assert.equal(
      (await view.catalogFields([kettle.id]))[0]?.name,
      "Tea kettle",
      "what an order is named and priced from: every change, at once",
    );
    await other.stock.set(kettle.id, 9, tick());
    await other.stock.levelsWritten([kettle.id]);
    await pastBound();
    assert.deepEqual(
      [(await view.get(kettle.id))?.name, (await view.get(kettle.id))?.stock],
      ["Tea kettle", 9],
      "another instance's changes of name and stock, after the bound",
    );

    const own = await store.updateProduct(kettle.id, { name: "Steel kettle" }, tick());
    await view.record(kettle.id, own, tick());
    await ownStock.set(kettle.id, 2, tick());
    assert.deepEqual(
      [(await view.get(kettle.id))?.name, (await view.get(kettle.id))?.stock],
      ["Steel kettle", 2],
      "its own changes, at once",
    );
    assert.deepEqual(
      (await view.list({ words: ["steel"] }, 10, undefined)).products.map((p) => [p.id, p.stock]),
      [[kettle.id, 2]],
    );
  });

  test("a reservation takes every line or none and reports every short product", async (store) => {
    const kettle = newProduct({ stock: 5 });
    const mug = newProduct({ stock: 1 });
    const pan = newProduct({ stock: 0 });
    for (const p of [kettle, mug, pan]) await store.createProduct(p);
    const failed = await book(store).reserve(reservationOf([line(kettle, 2), line(mug, 2), line(pan, 1)]));
    assert.equal(failed.status, "failed");
    assert.deepEqual([...failed.shortProductIds].sort(), [mug.id, pan.id].sort());
    assert.deepEqual((await store.findProducts([kettle.id, mug.id, pan.id])).map((p) => p.stock).sort(), [
      0,
      1,
      5,
    ]);

    const placed = reservationOf([line(kettle, 2), line(mug, 1)]);
    const reserved = await book(store).reserve(placed);
    assert.equal(reserved.status, "reserved");
    assert.deepEqual(reserved.lines, placed.lines);
    assert.equal((await store.findProduct(kettle.id))?.stock, 3);
    assert.equal((await store.findProduct(mug.id))?.stock, 0);
    assert.deepEqual(await book(store).find(placed.orderId), reserved);
    // Placing it again changes nothing and answers the same; so does the failed one.
    assert.deepEqual(await book(store).reserve(placed), reserved);
    assert.equal((await store.findProduct(kettle.id))?.stock, 3);
    assert.equal(
      (await book(store).reserve({ ...reservationOf([line(kettle, 2)]), orderId: failed.orderId })).status,
      "failed",
    );
    assert.equal((await store.findProduct(kettle.id))?.stock, 3);
  });

  test("commit keeps the units out; release after commit brings them back once", async (store) => {
    const kettle = newProduct({ stock: 4 });
    await store.createProduct(kettle);
    const placed = reservationOf([line(kettle, 3)]);
    await book(store).reserve(placed);
    assert.equal((await book(store).commit(placed.orderId, tick()))?.status, "committed");
    assert.equal((await book(store).commit(placed.orderId, tick()))?.status, "committed");
    assert.equal((await store.findProduct(kettle.id))?.stock, 1);
    assert.equal((await book(store).release(placed.orderId, tick()))?.status, "released");
    assert.equal((await book(store).release(placed.orderId, tick()))?.status, "released");
    assert.equal((await store.findProduct(kettle.id))?.stock, 4);
    assert.equal(
      (await book(store).commit(placed.orderId, tick()))?.status,
      "released",
      "a released one stays released",
    );
    assert.equal(await book(store).commit(crypto.randomUUID(), tick()), undefined);
    assert.equal(await book(store).release(crypto.randomUUID(), tick()), undefined);
  });

  test("an instance that reserved commits only what no other instance has decided since", async (store) => {
    const kettle = newProduct({ stock: 5 });
    await store.createProduct(kettle);
    // Another instance of the service: its own rules over the same store.
    const stock = new StockLog(store);
    const other = new ReservationBook(store, stock);
    const released = reservationOf([line(kettle, 2)]);
    await book(store).reserve(released);
    assert.equal((await other.release(released.orderId, tick()))?.status, "released");
    assert.equal((await book(store).commit(released.orderId, tick()))?.status, "released");
    const expired = reservationOf([line(kettle, 1)], 5_000);
    await book(store).reserve(expired);
    assert.equal((await other.sweep(new Date(expired.now.getTime() + 6_000))).expired, 1);
    assert.equal((await book(store).commit(expired.orderId, tick()))?.status, "expired");
    const paid = reservationOf([line(kettle, 3)]);
    await book(store).reserve(paid);
    assert.equal((await book(store).commit(paid.orderId, tick()))?.status, "committed");
    assert.equal((await other.release(paid.orderId, tick()))?.status, "released");
    assert.equal(
      (await book(store).commit(paid.orderId, tick()))?.status,
      "released",
      "read, not remembered",
    );
    assert.equal((await store.findProduct(kettle.id))?.stock, 5);
  });

  test("concurrent repeats of reserve, commit and release change the stock once", async (store) => {
    const kettle = newProduct({ stock: 5 });
    await store.createProduct(kettle);
    const placed = reservationOf([line(kettle, 2)]);
    const reserved = await Promise.all(Array.from({ length: 4 }, () => book(store).reserve(placed)));
    assert.deepEqual(reserved.map((r) => r.status), ["reserved", "reserved", "reserved", "reserved"]);
    assert.equal((await store.findProduct(kettle.id))?.stock, 3);
    await Promise.all(Array.from({ length: 3 }, () => book(store).commit(placed.orderId, tick())));
    assert.equal((await store.findProduct(kettle.id))?.stock, 3);
    const released = await Promise.all(
      Array.from({ length: 4 }, () => book(store).release(placed.orderId, tick())),
    );
    assert.deepEqual(released.map((r) => r?.status), ["released", "released", "released", "released"]);
    assert.equal((await store.findProduct(kettle.id))?.stock, 5);
  });

  test("of N concurrent single-unit reservations on stock S exactly S succeed", async (store) => {
    const kettle = newProduct({ stock: 4 });
    await store.createProduct(kettle);
    const outcomes = await Promise.all(
      Array.from({ length: 9 }, () => book(store).reserve(reservationOf([line(kettle, 1)]))),
    );
    assert.equal(outcomes.filter((r) => r.status === "reserved").length, 4);
    assert.equal(outcomes.filter((r) => r.status === "failed").length, 5);
    assert.equal((await store.findProduct(kettle.id))?.stock, 0);
  });

  test("setting the stock leaves reserved units reserved", async (store) => {
    const kettle = newProduct({ stock: 5 });
    await store.createProduct(kettle);
    const placed = reservationOf([line(kettle, 2)]);
    await book(store).reserve(placed);
    await setStock(store, kettle.id, 10, tick());
    await book(store).release(placed.orderId, tick());
    assert.equal((await store.findProduct(kettle.id))?.stock, 12);
  });

  test("a reservation past its expiry is expired by a sweep and its stock returns", async (store) => {
    const kettle = newProduct({ stock: 3 });
    await store.createProduct(kettle);
    const placed = reservationOf([line(kettle, 2)], 5_000);
    const kept = reservationOf([line(kettle, 1)], 60_000);
    await book(store).reserve(placed);
    await book(store).reserve(kept);
    assert.equal((await book(store).sweep(new Date(placed.now.getTime() + 1_000))).expired, 0);
    assert.equal((await book(store).sweep(new Date(placed.now.getTime() + 6_000))).expired, 1);
    assert.equal((await book(store).find(placed.orderId))?.status, "expired");
    assert.equal((await book(store).find(kept.orderId))?.status, "reserved");
    assert.equal((await store.findProduct(kettle.id))?.stock, 2);
    assert.equal((await book(store).sweep(new Date(placed.now.getTime() + 7_000))).expired, 0, "once only");
    assert.equal((await book(store).commit(placed.orderId, tick()))?.status, "expired", "too late to commit");
    assert.equal((await book(store).release(placed.orderId, tick()))?.status, "expired");
    assert.equal((await store.findProduct(kettle.id))?.stock, 2);
  });
}
