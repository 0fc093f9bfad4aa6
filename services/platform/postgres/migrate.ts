import type { Sql } from "postgres";
import { serviceLogger } from "../log/logging.ts";

/** One schema change: applied once, in version order, never edited after it has shipped. */
export interface Migration {
  /** Increasing integer, from the file name `001_create_users.sql`. */
  version: number;
  /** The rest of the file name, for the log. */
  name: string;
  /** The SQL, run in one transaction. */
  sql: string;
}

/**
 * Reads the `NNN_name.sql` files of a folder as migrations, in version order.
 *
 * @example
 * ```ts
 * const migrations = await readMigrations(new URL("./migrations/", import.meta.url));
 * ```
 */
export async function readMigrations(dir: URL): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(\d+)_([\w-]+)\.sql$/.exec(entry.name);
    if (!entry.isFile || !match?.[1] || !match[2]) continue;
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      sql: await Deno.readTextFile(new URL(entry.name, dir)),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  const versions = migrations.map((m) => m.version);
  if (new Set(versions).size !== versions.length) throw new Error(`duplicate migration versions in ${dir}`);
  return migrations;
}

/** An arbitrary constant: the advisory lock every instance takes before migrating. */
const migrationLockKey = 7_384_211;

/**
 * Applies the migrations that have not been applied yet, all in one transaction (a failing one leaves the
 * schema as it was), recording them in `schema_migrations`. A migration cannot use statements that refuse
 * to run in a transaction, such as `CREATE INDEX CONCURRENTLY`. Safe when several instances start at once: they queue on a PostgreSQL advisory
 * lock, and each one after the first finds nothing left to do. Refuses to start when the database has a
 * migration this build does not know (a newer build ran first) or a recorded migration's SQL changed.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * const sql = postgres("postgres://127.0.0.1:5432/users");
 * await migrate(sql, await readMigrations(new URL("./migrations/", import.meta.url)));
 * ```
 */
export async function migrate(sql: Sql, migrations: readonly Migration[]): Promise<number> {
  const log = serviceLogger("migrate");
  return await sql.begin(async (tx) => {
    // Transaction-scoped, so the lock is released however this ends.
    await tx`SELECT pg_advisory_xact_lock(${migrationLockKey})`;
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const applied = await tx<{ version: number; checksum: string }[]>`
      SELECT version, checksum FROM schema_migrations ORDER BY version`;
    const known = new Map(migrations.map((m) => [m.version, m]));
    for (const row of applied) {
      const migration = known.get(row.version);
      if (!migration) {
        throw new Error(`database has migration ${row.version}, which this build does not know`);
      }
      if (await checksum(migration.sql) !== row.checksum) {
        throw new Error(`migration ${row.version}_${migration.name} changed after it was applied`);
      }
    }
    const done = new Set(applied.map((row) => row.version));
    let count = 0;
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await tx.savepoint(async (step) => {
        await step.unsafe(migration.sql);
        await step`
          INSERT INTO schema_migrations (version, name, checksum)
          VALUES (${migration.version}, ${migration.name}, ${await checksum(migration.sql)})`;
      });
      log.info("Applied migration {version}_{name}", { version: migration.version, name: migration.name });
      count++;
    }
    return count;
  });
}

async function checksum(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
