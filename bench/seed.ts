/**
 * Seeds rows straight into the bench stack's own throwaway stores, for the cost curves: products into
 * its MongoDB (FerretDB) database, orders into its PostgreSQL order database, and builds the keyset page
 * tokens that reach a deep page without paging through everything before it.
 *
 * The stack does not hand out its database URLs, so they are found on the servers this process started
 * (the harness' `postgresForTests()` / `mongoForTests()`) by the stack's label: the bench runs against
 * servers of its own, where only its databases exist.
 *
 * @module
 */
import { MongoClient } from "mongodb";
import postgres from "postgres";
import { mongoForTests, postgresForTests, withDatabase } from "@shop/platform/testing";
import { encodePageToken } from "@shop/platform/paging";
import { placeholderImageUri } from "../services/product/seed.ts";

/** A keyset page token as the product and order services write them: `{t, id}` (+ `f` for products). */
interface Cursor {
  t: number;
  id: string;
  f?: string;
}

/**
 * Reads the cursor of a page token (base64url JSON), to reuse its filter fingerprint.
 *
 * @example
 * ```ts
 * decodeCursor("eyJ0IjoxLCJpZCI6ImEiLCJmIjoieiJ9"); // { t: 1, id: "a", f: "z" }
 * ```
 */
export function decodeCursor(token: string): Cursor {
  const base64 = token.replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))));
}

/**
 * The id of the i-th seeded product: UUID-shaped, sorted like i.
 *
 * @example
 * ```ts
 * seedProductId(7); // "5eed0000-0000-4000-8000-000000000007"
 * ```
 */
export function seedProductId(i: number): string {
  return `5eed0000-0000-4000-8000-${String(i).padStart(12, "0")}`;
}

/** The product store of the bench stack, for seeding. */
export interface ProductSeeder {
  /** Rows seeded so far. */
  readonly seeded: number;
  /** Seeds products until `total` exist (after the catalog, in catalog order); returns the seconds taken. */
  seedTo(total: number): Promise<number>;
  /** A token for the page after seeded product `index` (so the page holds the products after it). */
  tokenAfter(index: number, fingerprint: string): string;
  close(): Promise<void>;
}

const adjectives = ["Blue", "Red", "Green", "Steel", "Oak", "Glass", "Copper", "Linen"];
const nouns = [
  "kettle",
  "mug",
  "lamp",
  "chair",
  "notebook",
  "trowel",
  "blanket",
  "teapot",
  "shelf",
  "pan",
  "candle",
  "basket",
  "clock",
];

/**
 * The i-th seeded product's catalog fields: ten categories `seed-0` ... `seed-9`, prices spread over
 * 10.00 to 1009.99, names from 8 adjectives and 13 nouns, so that the filtered pages of the curves
 * (`category=seed-3`, a price range of a tenth, `query=kettle`) each match about a tenth of them.
 *
 * @example
 * ```ts
 * seededFields(7).category; // "seed-7"
 * ```
 */
export function seededFields(i: number): { name: string; category: string; priceMinor: bigint } {
  return {
    name: `${adjectives[i % adjectives.length]} ${nouns[i % nouns.length]} ${i}`,
    category: `seed-${i % 10}`,
    priceMinor: BigInt(1000 + (i * 7919) % 100_000),
  };
}

/**
 * Opens the bench stack's product database (the one whose name starts with `<label>_product`). Seeded
 * products are written as the product store writes them, and each is recorded in the catalog's change
 * log (`catalog_changes`, numbered after the last change) so that every running product instance takes
 * them in, as it would products an admin created; a product store without a change log ignores it.
 *
 * @example
 * ```ts ignore
 * const products = await openProductSeeder("bench");
 * await products.seedTo(1000);
 * ```
 */
export async function openProductSeeder(label: string): Promise<ProductSeeder> {
  const client = new MongoClient((await mongoForTests()).url);
  await client.connect();
  const name = await productDatabase(client, label).catch(async (error) => {
    await client.close();
    throw error;
  });
  const db = client.db(name, { ignoreUndefined: true });
  // `_id` is the product id (a string), as the product store keeps it.
  const products = db.collection<{ _id: string }>("products", { useBigInt64: true });
  const changes = db.collection<{ _id: number }>("catalog_changes", { useBigInt64: true });
  const head = db.collection<{ _id: string; seq: number }>("catalog_head");
  // After every product of the catalog, so the seeded ones are the tail of the list.
  const base = Date.now() + 3_600_000;
  // Like every product of the shop, each has a picture (the placeholder, served under /images/).
  const picture = await placeholderImageUri();
  let seeded = 0;
  return {
    get seeded() {
      return seeded;
    },
    async seedTo(total) {
      const started = performance.now();
      const batch = 1000;
      let seq = (await head.findOne({ _id: "head" }))?.seq ?? 0;
      while (await changes.findOne({ _id: seq + 1 })) seq++;
      while (seeded < total) {
        const docs = [];
        for (let i = seeded; i < Math.min(total, seeded + batch); i++) {
          const time = new Date(base + i);
          const fields = seededFields(i);
          docs.push({
            _id: seedProductId(i),
            sku: `SEED-${i}`,
            name: fields.name,
            description: "A product seeded for the bench.",
            category: fields.category,
            price: { currencyCode: "USD", amountMinor: fields.priceMinor },
            initialStock: 100,
            images: [{ uri: picture, altText: `${fields.name}: a placeholder drawing` }],
            createTime: time,
            updateTime: time,
          });
        }
        await products.insertMany(docs, { ordered: false });
        await changes.insertMany(
          docs.map((doc) => {
            seq++;
            return {
              _id: seq,
              block: Math.floor(seq / 64),
              productId: doc._id,
              product: doc,
              time: new Date(),
            };
          }),
        );
        seeded += docs.length;
      }
      await head.updateOne({ _id: "head" }, { $set: { seq } }, { upsert: true });
      return (performance.now() - started) / 1000;
    },
    tokenAfter(index, fingerprint) {
      return encodePageToken({ t: base + index, id: seedProductId(index), f: fingerprint });
    },
    close: () => client.close(),
  };
}

/**
 * Adds `count` past stock moves to the bench stack's product store, as a shop that has taken orders for a
 * while would have: 100 retired products (ids `history-<n>`, not in the catalog) with their logs, and
 * the committed reservations (with their two decisions) of the first `orders` past orders. No current
 * product's stock changes; only the size of the collections does.
 *
 * @example
 * ```ts ignore
 * const seconds = await seedMoveHistory("bench", 20_000);
 * ```
 */
export async function seedMoveHistory(label: string, count: number, orders = 0): Promise<number> {
  const started = performance.now();
  const client = new MongoClient((await mongoForTests()).url);
  await client.connect();
  try {
    const moves = client.db(await productDatabase(client, label)).collection<{ _id: string }>("stock_moves");
    const time = new Date();
    for (let from = 0; from < count; from += 1000) {
      const docs = [];
      for (let i = from; i < Math.min(count, from + 1000); i++) {
        const seq = Math.floor(i / 100) + 1;
        docs.push({
          _id: `history-${i % 100}:${seq}`,
          productId: `history-${i % 100}`,
          seq,
          stock: 1_000_000 - seq,
          delta: -1,
          kind: "take",
          opKey: `history-order-${i}:history-${i % 100}:take`,
          orderId: `history-order-${i}`,
          time,
          synced: true,
        });
      }
      await moves.insertMany(docs, { ordered: false });
    }
    // The reservations of past orders, committed, with their decisions.
    const db = client.db(await productDatabase(client, label));
    const reservations = db.collection<{ _id: string }>("reservations", { useBigInt64: true });
    const decisions = db.collection<{ _id: string }>("reservation_decisions");
    for (let from = 0; from < orders; from += 1000) {
      const ids = Array.from(
        { length: Math.min(orders, from + 1000) - from },
        (_, k) => `history-order-${from + k}`,
      );
      await reservations.insertMany(
        ids.map((id, k) => ({
          _id: id,
          lines: [{
            productId: `history-${(from + k) % 100}`,
            name: "Retired product",
            unitPrice: { currencyCode: "USD", amountMinor: 1999n },
            quantity: 1,
          }],
          status: "committed",
          statusSeq: 2,
          open: false,
          expireTime: time,
          createTime: time,
          updateTime: time,
        })),
        { ordered: false },
      );
      await decisions.insertMany(
        ids.flatMap((id) => [
          { _id: `${id}:1`, orderId: id, seq: 1, status: "reserved", shortProductIds: [], time, done: true },
          { _id: `${id}:2`, orderId: id, seq: 2, status: "committed", shortProductIds: [], time, done: true },
        ]),
        { ordered: false },
      );
    }
  } finally {
    await client.close();
  }
  await analyzeFerretDb();
  return (performance.now() - started) / 1000;
}

/**
 * Refreshes PostgreSQL's statistics of the FerretDB tables after a bulk load (as the order seeder does
 * for its table): a shop that gathered its history over time has had them refreshed by autovacuum all
 * along, and a plan made for an empty table would read the whole table.
 */
async function analyzeFerretDb(): Promise<void> {
  const serverUrl = (await postgresForTests()).url;
  const server = postgres(serverUrl, { max: 1, onnotice: () => {} });
  let names: string[];
  try {
    names = (await server<{ datname: string }[]>`
      SELECT datname FROM pg_database WHERE datname = 'ferretdb' OR datname LIKE 'ferretdb\_%'`)
      .map((row) => row.datname);
  } finally {
    await server.end();
  }
  for (const name of names) {
    const sql = postgres(withDatabase(serverUrl, name), { max: 1, onnotice: () => {} });
    try {
      await sql`ANALYZE`;
    } finally {
      await sql.end();
    }
  }
}

async function productDatabase(client: MongoClient, label: string): Promise<string> {
  const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
  const names = databases.map((d) => d.name).filter((name) => name.startsWith(`${label}_product`));
  if (names.length !== 1 || names[0] === undefined) {
    throw new Error(`expected one product database named ${label}_product*, found ${JSON.stringify(names)}`);
  }
  return names[0];
}

/** The order store of the bench stack, for seeding one user's history. */
export interface OrderSeeder {
  readonly seeded: number;
  /** Seeds orders of `userId` until it has `total` (copies of a real order); returns the seconds taken. */
  seedTo(total: number): Promise<number>;
  /** A token for the page after the `n`-th newest seeded order (1-based). */
  tokenAfter(n: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens the bench stack's order database (`<label>_order*`), to seed copies of an existing order of
 * another user as the history of `userId`, one millisecond apart, newest first.
 *
 * @example
 * ```ts ignore
 * const orders = await openOrderSeeder("bench", historyUserId);
 * await orders.seedTo(1000);
 * ```
 */
export async function openOrderSeeder(label: string, userId: string): Promise<OrderSeeder> {
  const serverUrl = (await postgresForTests()).url;
  const server = postgres(serverUrl, { max: 1, onnotice: () => {} });
  let name: string | undefined;
  try {
    const rows = await server<{ datname: string }[]>`
      SELECT datname FROM pg_database WHERE datname LIKE ${`${label}_order%`}`;
    if (rows.length !== 1) throw new Error(`expected one database ${label}_order*, found ${rows.length}`);
    name = rows[0]?.datname;
  } finally {
    await server.end();
  }
  const sql = postgres(withDatabase(serverUrl, name ?? ""), { max: 2, onnotice: () => {} });
  const [template] = await sql<{ id: string }[]>`SELECT id FROM orders WHERE user_id <> ${userId} LIMIT 1`;
  if (template === undefined) {
    await sql.end();
    throw new Error("the order database has no order to copy: run the CreateOrder scenario first");
  }
  // Whole milliseconds: page tokens carry milliseconds.
  const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
  let seeded = 0;
  return {
    get seeded() {
      return seeded;
    },
    async seedTo(total) {
      const started = performance.now();
      if (total > seeded) {
        await sql`
          INSERT INTO orders (id, user_id, request_id, status, items, total_currency, total_minor,
            status_history, failure_reason, shipping_address, payment_method, create_time, update_time,
            saga_step, charge_attempted)
          SELECT gen_random_uuid(), ${userId}, 'seed-' || g, o.status, o.items, o.total_currency,
            o.total_minor, o.status_history, o.failure_reason, o.shipping_address, o.payment_method,
            to_timestamp((${base}::bigint - g) / 1000.0), to_timestamp((${base}::bigint - g) / 1000.0),
            o.saga_step, o.charge_attempted
          FROM orders o, generate_series(${seeded + 1}::int, ${total}::int) AS g
          WHERE o.id = ${template.id}`;
        await sql`ANALYZE orders`;
        seeded = total;
      }
      return (performance.now() - started) / 1000;
    },
    async tokenAfter(n) {
      const [row] = await sql<{ id: string; ms: string }[]>`
        SELECT id, (extract(epoch FROM create_time) * 1000)::bigint::text AS ms
        FROM orders WHERE user_id = ${userId} AND request_id = ${`seed-${n}`}`;
      if (row === undefined) throw new Error(`seeded order ${n} is missing`);
      return encodePageToken({ t: Number(row.ms), id: row.id });
    },
    close: () => sql.end(),
  };
}
