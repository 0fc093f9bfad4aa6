import postgres, { type Sql } from "postgres";
import { tracePostgresStatements } from "../tracing/postgres_statements.ts";

/** Options of {@linkcode connectPostgres}. */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`. */
  url: string;
  /** Most connections this process opens (10 unless set). */
  maxConnections?: number;
  /** How long a query may run before PostgreSQL cancels it, in ms (10 s unless set). */
  statementTimeoutMs?: number;
  /** How long to wait for a connection, in ms (5 s unless set). */
  connectTimeoutMs?: number;
  /** The name PostgreSQL shows for these connections (`pg_stat_activity.application_name`). */
  applicationName: string;
}

/**
 * Opens a postgres.js pool with the limits every service uses: a bounded pool, a connect timeout and a
 * server-side statement timeout, so no query can hang a request forever. Inside a traced call, each
 * statement is a span (`tracePostgresStatements`).
 *
 * @example
 * ```ts
 * const sql = connectPostgres({ url: "postgres://127.0.0.1:5432/users", applicationName: "user" });
 * await sql`SELECT 1`;
 * await sql.end({ timeout: 5 });
 * ```
 */
export function connectPostgres(options: PostgresOptions): Sql {
  const sql = postgres(options.url, {
    max: options.maxConnections ?? 10,
    connect_timeout: Math.ceil((options.connectTimeoutMs ?? 5_000) / 1000),
    idle_timeout: 60,
    onnotice: () => {},
    connection: {
      application_name: options.applicationName,
      statement_timeout: options.statementTimeoutMs ?? 10_000,
    },
  });
  tracePostgresStatements(sql);
  return sql;
}
