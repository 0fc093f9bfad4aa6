/**
 * The busiest PostgreSQL statements of a scenario, from `pg_stat_statements` (the harness' PostgreSQL
 * preloads it): every service's database and FerretDB's, so a statement that grows with the shop's
 * history shows up by name. Profiling, not a figure to compare: its times are the server's own.
 *
 * @module
 */
import postgres from "postgres";

/** One statement's totals over a scenario. */
export interface StatementCost {
  /** The database it ran in (`bench_order_...`, `ferretdb_...`). */
  database: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  /** The statement, whitespace collapsed, cut at 140 characters. */
  statement: string;
}

/** Statement statistics of one PostgreSQL server, reset at the start of a scenario. */
export interface StatementProfile {
  /** Forgets what was counted so far. */
  reset(): Promise<void>;
  /** The `limit` statements that took the most time since the last reset. */
  top(limit: number): Promise<StatementCost[]>;
  close(): Promise<void>;
}

/**
 * Opens the statistics of the server at `serverUrl` (any database of it), or `undefined` when the
 * server does not collect them (started without the preload).
 *
 * @example
 * ```ts ignore
 * const profile = await openStatementProfile((await postgresForTests()).url);
 * await profile?.reset();
 * // ... the load ...
 * console.table(await profile?.top(10));
 * ```
 */
export async function openStatementProfile(serverUrl: string): Promise<StatementProfile | undefined> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    await sql`SELECT pg_stat_statements_reset()`;
  } catch {
    await sql.end();
    return undefined;
  }
  return {
    async reset() {
      await sql`SELECT pg_stat_statements_reset()`;
    },
    async top(limit) {
      const rows = await sql<
        { database: string; calls: string; total_ms: number; mean_ms: number; statement: string }[]
      >`
        SELECT d.datname AS database, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms,
          left(regexp_replace(s.query, '\\s+', ' ', 'g'), 140) AS statement
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE s.query NOT LIKE '%pg_stat_statements%'
        ORDER BY s.total_exec_time DESC LIMIT ${limit}`;
      return rows.map((row) => ({
        database: row.database,
        calls: Number(row.calls),
        totalMs: Math.round(row.total_ms * 10) / 10,
        meanMs: Math.round(row.mean_ms * 1000) / 1000,
        statement: row.statement,
      }));
    },
    async close() {
      await sql.end();
    },
  };
}
