/**
 * PostgreSQL for the services that use it: a pool with sane limits and versioned migrations that are
 * safe when several instances start at once.
 *
 * @example
 * ```ts
 * import { connectPostgres, migrate, readMigrations } from "./mod.ts";
 * ```
 * @module
 */
export * from "./connect_postgres.ts";
export * from "./migrate.ts";
