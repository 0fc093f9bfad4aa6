/**
 * A real PostgreSQL for tests, and a fresh database in it for each suite.
 *
 * @module
 */
import { quoteIdentifier, withDatabase } from "./servers.ts";
import { sharedServerUrl } from "./test_servers.ts";

/** The shared PostgreSQL of a test run. */
export interface PostgresForTests {
  /** A superuser URL on the maintenance database `postgres`. */
  readonly url: string;
  /**
   * Creates an empty database of its own for one suite. Drop it with `drop()`, or let `await using`
   * drop it; the server itself is thrown away at the end of the run in any case.
   */
  createDatabase(options?: CreateDatabaseOptions): Promise<PostgresTestDatabase>;
}

/** Options of {@linkcode PostgresForTests.createDatabase}. */
export interface CreateDatabaseOptions {
  /** A readable start of the generated name, such as the service's name (lowercase letters and `_`). */
  label?: string;
}

/** A database that belongs to one suite. */
export interface PostgresTestDatabase extends AsyncDisposable {
  /** Its name, unique in the server. */
  readonly name: string;
  /** A superuser URL on it. */
  readonly url: string;
  /** Drops it, closing whatever connections are still open to it. */
  drop(): Promise<void>;
}

/**
 * The shared PostgreSQL of the test run: `SHOP_TEST_POSTGRES_URL` when set, else a throwaway cluster
 * this process starts on a free port the first time it is asked for.
 *
 * @example Give a suite its own database
 * ```ts ignore
 * import postgres from "postgres";
 * import { postgresForTests } from "@shop/platform/testing";
 *
 * Deno.test("orders are stored", async () => {
 *   await using db = await (await postgresForTests()).createDatabase({ label: "order" });
 *   const sql = postgres(db.url);
 *   await sql`CREATE TABLE orders (id text PRIMARY KEY)`;
 *   await sql.end();
 * });
 * ```
 */
export async function postgresForTests(): Promise<PostgresForTests> {
  const url = await sharedServerUrl("postgres");
  return { url, createDatabase: (options) => createDatabase(url, options ?? {}) };
}

async function createDatabase(
  serverUrl: string,
  options: CreateDatabaseOptions,
): Promise<PostgresTestDatabase> {
  const label = (options.label ?? "test").toLowerCase().replaceAll(/[^a-z0-9_]/g, "_").slice(0, 30);
  const name = `${label}_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  await admin(serverUrl, `CREATE DATABASE ${quoteIdentifier(name)}`);
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    // FORCE: a suite that failed half-way may still hold connections.
    await admin(serverUrl, `DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  };
  return { name, url: withDatabase(serverUrl, name), drop, [Symbol.asyncDispose]: drop };
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}
