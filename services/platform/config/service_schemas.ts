/**
 * The configuration groups every shop service has, so each service's schema names only what is its own.
 *
 * @module
 */
import { duration, type Field, integer, oneOf, string, tcpPort, url } from "./fields.ts";

/** `dev` allows the documented dev defaults (seeded admin, Stripe test keys); `production` allows none. */
export type Mode = "dev" | "production";

/**
 * The `mode` key, also set by `SHOP_ENV` for every process of a stack.
 *
 * @example
 * ```ts
 * const schema = { mode: modeField() };
 * ```
 */
export function modeField(): Field<Mode> {
  return oneOf(["dev", "production"] as const, { default: "production", env: ["SHOP_ENV"] });
}

/** The `server` group. */
export type ServerConfigSchema = {
  host: Field<string>;
  port: Field<number>;
  shutdownGrace: Field<number>;
  preStopDelay: Field<number>;
  maxInFlight: Field<number>;
};

/**
 * The `server` group: where to listen, how long in-flight calls may take to drain at shutdown, how
 * long to keep serving after leaving the registry so callers notice first, and how many calls of the
 * service's own RPCs it handles at once before it refuses more with RESOURCE_EXHAUSTED (`maxInFlight`).
 *
 * @example
 * ```ts
 * const schema = { server: serverConfigSchema({ port: 50051 }) };
 * ```
 */
export function serverConfigSchema(
  defaults: { port: number; shutdownGrace?: number; maxInFlight?: number },
): ServerConfigSchema {
  return {
    host: string({ default: "127.0.0.1" }),
    port: tcpPort({ default: defaults.port }),
    shutdownGrace: duration({ default: defaults.shutdownGrace ?? 10_000 }),
    preStopDelay: duration({ default: 2_000 }),
    // The kit's default (server/admission.ts, defaultMaxInFlight), unless the service knows better.
    maxInFlight: integer({ default: defaults.maxInFlight ?? 32, min: 1, max: 100_000 }),
  };
}

/** The `tls` group. */
export type TlsConfigSchema = { certsDir: Field<string> };

/**
 * The `tls` group: the folder with the service's certificate, key and the CA (scripts/certs in dev).
 *
 * @example
 * ```ts
 * const schema = { tls: tlsConfigSchema() };
 * ```
 */
export function tlsConfigSchema(): TlsConfigSchema {
  return { certsDir: string({ minLength: 1 }) };
}

/** The `database` group of a PostgreSQL service. */
export type PostgresConfigSchema = { url: Field<string>; maxConnections: Field<number> };

/**
 * The `database` group of a service on PostgreSQL: its URL (a secret) and pool size.
 *
 * @example
 * ```ts
 * const schema = { database: postgresConfigSchema() };
 * ```
 */
export function postgresConfigSchema(): PostgresConfigSchema {
  return {
    url: url({ schemes: ["postgres", "postgresql"], secret: true }),
    maxConnections: integer({ default: 10, min: 1, max: 200 }),
  };
}
