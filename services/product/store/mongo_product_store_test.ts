import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { mongoForTests } from "@shop/platform/testing";
import { ReservationBook } from "../domain/reservation_book.ts";
import { StockLog } from "../domain/stock_log.ts";
import { MongoProductStore } from "./mongo_product_store.ts";
import { newProduct, productStoreContract } from "./product_store_contract.ts";

async function openStore(url: string, name: string, repairAfterMs = 30_000) {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
  const store = new MongoProductStore(client.db(name));
  await store.ensureIndexes();
  // One instance of the service: its own rules over its own connection.
  const book = new ReservationBook(store, new StockLog(store), { repairAfterMs });
  return { client, store, book };
}

productStoreContract("MongoProductStore", async () => {
  const db = await (await mongoForTests()).createDatabase({ label: "product" });
  const { client, store } = await openStore(db.url, db.name);
  return {
    store,
    async cleanup() {
      await client.close();
      await db.drop();
    },
  };
});

Deno.test("MongoProductStore: two instances on one database never oversell", async () => {
  await using db = await (await mongoForTests()).createDatabase({ label: "product_two" });
  const first = await openStore(db.url, db.name);
  const second = await openStore(db.url, db.name);
  try {
    await first.store.ensureIndexes(); // idempotent, as every instance runs it at start
    const kettle = newProduct({ stock: 3 });
    await first.store.createProduct(kettle);
    const now = new Date();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? first : second).book.reserve({
          orderId: crypto.randomUUID(),
          lines: [{ productId: kettle.id, name: kettle.name, unitPrice: kettle.price, quantity: 1 }],
          now,
          expireTime: new Date(now.getTime() + 60_000),
        })),
    );
    assert.equal(outcomes.filter((r) => r.status === "reserved").length, 3);
    assert.equal((await second.store.findProduct(kettle.id))?.stock, 0);
  } finally {
    await first.client.close();
    await second.client.close();
  }
});

Deno.test("MongoProductStore: starts over data whose indexes an older version defined otherwise", async () => {
  await using db = await (await mongoForTests()).createDatabase({ label: "product_old_index" });
  const client = new MongoClient(db.url, { serverSelectionTimeoutMS: 10_000 });
  try {
    // An earlier version indexed unfinished decisions by { done, time } under the same name.
    const decisions = client.db(db.name).collection("reservation_decisions");
    await decisions.createIndex({ done: 1, time: 1 }, { name: "unfinished" });
    const store = new MongoProductStore(client.db(db.name));
    await store.ensureIndexes();
    const unfinished = (await decisions.indexes()).find((index) => index.name === "unfinished");
    assert.deepEqual(unfinished?.key, { done: 1 });
    const kettle = newProduct({ stock: 2 });
    await store.createProduct(kettle);
    assert.equal((await store.findProduct(kettle.id))?.stock, 2);
  } finally {
    await client.close();
  }
});

Deno.test("MongoProductStore: a sweep finishes what a process that died half-way left", async () => {
  await using db = await (await mongoForTests()).createDatabase({ label: "product_crash" });
  const { client, store, book } = await openStore(db.url, db.name, 1_000);
  try {
    const kettle = newProduct({ stock: 5 });
    await store.createProduct(kettle);
    const now = new Date();
    const orderId = crypto.randomUUID();
    await book.reserve({
      orderId,
      lines: [{ productId: kettle.id, name: kettle.name, unitPrice: kettle.price, quantity: 2 }],
      now,
      expireTime: new Date(now.getTime() + 3_600_000),
    });
    // The process decided "released" and died before giving the units back.
    const database = client.db(db.name);
    await database.collection("reservation_decisions").insertOne({
      _id: `${orderId}:2` as unknown as never,
      orderId,
      seq: 2,
      status: "released",
      shortProductIds: [],
      time: now,
      done: false,
    });
    // Another process appended a move and died before updating the cached stock level.
    await database.collection("stock_moves").insertOne({
      _id: `${kettle.id}:2` as unknown as never,
      productId: kettle.id,
      seq: 2,
      stock: 13,
      delta: 10,
      kind: "set",
      opKey: `set:${crypto.randomUUID()}`,
      time: now,
      synced: false,
    });
    assert.equal((await store.findProduct(kettle.id))?.stock, 3, "the cache still shows the old level");
    assert.equal((await book.sweep(new Date(now.getTime() + 500))).repaired, 0, "not before the grace time");
    const report = await book.sweep(new Date(now.getTime() + 2_000));
    assert.ok(report.repaired >= 1, JSON.stringify(report));
    assert.equal((await book.find(orderId))?.status, "released");
    assert.equal((await store.findProduct(kettle.id))?.stock, 15, "13 after the set, plus the 2 given back");
    await book.release(orderId, new Date());
    assert.equal((await store.findProduct(kettle.id))?.stock, 15, "given back once only");
  } finally {
    await client.close();
  }
});
