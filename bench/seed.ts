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

/**
 * Opens the bench stack's product database (the one whose name starts with `<label>_product`).
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
  // `_id` is the product id (a string), as the product store keeps it.
  const products = client.db(name, { ignoreUndefined: true }).collection<{ _id: string }>(
    "products",
    { useBigInt64: true },
  );
  const template = await products.findOne({});
  if (template === null) throw new Error("the product database has no product to copy");
  // After every product of the catalog, so the seeded ones are the tail of the list.
  const base = Date.now() + 3_600_000;
  let seeded = 0;
  return {
    get seeded() {
      return seeded;
    },
    async seedTo(total) {
      const started = performance.now();
      const batch = 1000;
      while (seeded < total) {
        const docs = [];
        for (let i = seeded; i < Math.min(total, seeded + batch); i++) {
          const time = new Date(base + i);
          docs.push({
            ...template,
            _id: seedProductId(i),
            sku: `SEED-${i}`,
            name: `Seeded product ${i}`,
            createTime: time,
            updateTime: time,
          });
        }
        await products.insertMany(docs, { ordered: false });
        seeded += docs.length;
      }
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
 * while would have: 100 retired products (ids `history-<n>`, not in the catalog) with their logs, every
 * move synced. No current product's stock changes; only the size of the `stock_moves` collection does.
 *
 * @example
 * ```ts ignore
 * const seconds = await seedMoveHistory("bench", 20_000);
 * ```
 */
export async function seedMoveHistory(label: string, count: number): Promise<number> {
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
  } finally {
    await client.close();
  }
  return (performance.now() - started) / 1000;
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
