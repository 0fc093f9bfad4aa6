import assert from "node:assert/strict";
import { MongoClient, MongoServerError } from "mongodb";
import { mongoForTests, withMongoDatabase } from "./mongo.ts";

Deno.test("mongoForTests() stores and finds documents through the mongodb driver", async () => {
  await using db = await (await mongoForTests()).createDatabase({ label: "product" });
  const client = new MongoClient(db.url);
  try {
    const products = client.db(db.name).collection<{ sku: string; stock: number }>("products");
    await products.insertMany([{ sku: "A-1", stock: 3 }, { sku: "B-2", stock: 0 }]);
    const inStock = await products.find({ stock: { $gt: 0 } }, { projection: { _id: 0 } }).toArray();
    assert.deepEqual(inStock, [{ sku: "A-1", stock: 3 }]);
  } finally {
    await client.close();
  }
});

Deno.test("mongoForTests() enforces a unique index", async () => {
  await using db = await (await mongoForTests()).createDatabase();
  const client = new MongoClient(db.url);
  try {
    const products = client.db(db.name).collection("products");
    await products.createIndex({ sku: 1 }, { unique: true });
    await products.insertOne({ sku: "A-1" });
    await assert.rejects(
      products.insertOne({ sku: "A-1" }),
      (error: unknown) => error instanceof MongoServerError && error.code === 11000,
    );
    assert.equal(await products.countDocuments({ sku: "A-1" }), 1);
  } finally {
    await client.close();
  }
});

Deno.test("mongoForTests() gives each suite its own database, dropped on dispose", async () => {
  const mongo = await mongoForTests();
  const client = new MongoClient(mongo.url);
  try {
    const kept = await mongo.createDatabase();
    await client.db(kept.name).collection("c").insertOne({ from: "kept" });
    let droppedName = "";
    {
      await using db = await mongo.createDatabase();
      droppedName = db.name;
      assert.notEqual(db.name, kept.name);
      await client.db(db.name).collection("c").insertOne({ from: "dropped" });
      assert.equal(await client.db(kept.name).collection("c").countDocuments({ from: "dropped" }), 0);
    }
    const names = (await client.db().admin().listDatabases()).databases.map((d) => d.name);
    assert.ok(names.includes(kept.name));
    assert.ok(!names.includes(droppedName), "the disposed suite's database is dropped");
    await kept.drop();
    const after = (await client.db().admin().listDatabases()).databases.map((d) => d.name);
    assert.ok(!after.includes(kept.name));
  } finally {
    await client.close();
  }
});

Deno.test("withMongoDatabase() replaces the default database and keeps the options", () => {
  assert.equal(withMongoDatabase("mongodb://127.0.0.1:27017/", "shop"), "mongodb://127.0.0.1:27017/shop");
  assert.equal(
    withMongoDatabase("mongodb://a:1,b:2/old?replicaSet=rs", "shop"),
    "mongodb://a:1,b:2/shop?replicaSet=rs",
  );
  assert.equal(withMongoDatabase("mongodb://127.0.0.1:27017", "shop"), "mongodb://127.0.0.1:27017/shop");
});
