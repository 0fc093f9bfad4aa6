/**
 * A real MongoDB wire protocol server for tests (FerretDB on PostgreSQL), and a fresh database in it for
 * each suite.
 *
 * @module
 */
import { sharedServerUrl } from "./test_servers.ts";

/** The shared MongoDB-compatible server of a test run. */
export interface MongoForTests {
  /** Its URL without a database, e.g. `mongodb://127.0.0.1:41234/`. */
  readonly url: string;
  /** Names an empty database of its own for one suite; `drop()` or `await using` drops it. */
  createDatabase(options?: CreateMongoDatabaseOptions): Promise<MongoTestDatabase>;
}

/** Options of {@linkcode MongoForTests.createDatabase}. */
export interface CreateMongoDatabaseOptions {
  /** A readable start of the generated name, such as the service's name. */
  label?: string;
}

/** A database that belongs to one suite. */
export interface MongoTestDatabase extends AsyncDisposable {
  /** Its name: pass it to `client.db(name)`. */
  readonly name: string;
  /** The server URL with this database as the default one. */
  readonly url: string;
  /** Drops the database. */
  drop(): Promise<void>;
}

/**
 * The shared MongoDB-compatible server of the test run: `SHOP_TEST_MONGO_URL` when set (a real MongoDB
 * works too), else a FerretDB this process starts on a free port, over the shared test PostgreSQL.
 *
 * @example Give a suite its own database
 * ```ts ignore
 * import { MongoClient } from "mongodb";
 * import { mongoForTests } from "@shop/platform/testing";
 *
 * Deno.test("products are stored", async () => {
 *   await using db = await (await mongoForTests()).createDatabase({ label: "product" });
 *   const client = new MongoClient(db.url);
 *   await client.db(db.name).collection("products").insertOne({ sku: "A-1" });
 *   await client.close();
 * });
 * ```
 */
export async function mongoForTests(): Promise<MongoForTests> {
  const url = await sharedServerUrl("mongo");
  return {
    url,
    createDatabase: (options) => {
      // Lowercase letters, digits and `_` only: FerretDB maps a database to a PostgreSQL schema.
      const label = (options?.label ?? "test").toLowerCase().replaceAll(/[^a-z0-9_]/g, "_").slice(0, 20);
      const name = `${label}_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      let dropped = false;
      const drop = async (): Promise<void> => {
        if (dropped) return;
        dropped = true;
        const { MongoClient } = await import("mongodb");
        const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
        try {
          await client.db(name).dropDatabase();
        } finally {
          await client.close();
        }
      };
      return Promise.resolve({ name, url: withMongoDatabase(url, name), drop, [Symbol.asyncDispose]: drop });
    },
  };
}

/**
 * The same MongoDB URL with another default database. Not through `URL`: a MongoDB URL may name several
 * hosts, which `URL` cannot parse.
 *
 * @example
 * ```ts ignore
 * withMongoDatabase("mongodb://127.0.0.1:27017/?directConnection=true", "shop");
 * // "mongodb://127.0.0.1:27017/shop?directConnection=true"
 * ```
 */
export function withMongoDatabase(url: string, database: string): string {
  const [base = "", query] = url.split("?", 2);
  const hostsEnd = base.indexOf("/", base.indexOf("://") + 3);
  const hosts = hostsEnd === -1 ? base : base.slice(0, hostsEnd);
  return `${hosts}/${database}${query === undefined ? "" : `?${query}`}`;
}
