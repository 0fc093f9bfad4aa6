import { Gauge, Histogram, type Registry } from "prom-client";
import { insideTracedCall, startChildSpan } from "../tracing/tracing.ts";

/** The `db.system` of each store name. */
const dbSystems: Record<string, string> = { postgres: "postgresql", mongo: "mongodb" };

/** Buckets in seconds, 0.5 ms to 5 s: single-row reads up to a statement that hits its timeout. */
const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Options of {@linkcode instrumentStore}. */
export interface StoreMetricsOptions {
  /** The service's registry (`server.metrics.registry`, or the one passed to `startServer`). */
  registry: Registry;
  /** The store's name in the `store` label: `postgres`, `mongo`, ... */
  store: string;
  /** The size of the store's connection pool, exported as `shop_db_pool_max_connections`. */
  poolSize?: number;
}

const created = new WeakMap<
  Registry,
  { seconds: Histogram<string>; inFlight: Gauge<string>; pool: Gauge<string> }
>();

function metricsOf(registry: Registry) {
  let metrics = created.get(registry);
  if (!metrics) {
    metrics = {
      seconds: new Histogram({
        name: "shop_db_operation_seconds",
        help: "Time of each store operation (one call of the store port: its queries, or its transaction).",
        labelNames: ["store", "operation", "outcome"],
        buckets,
        registers: [registry],
      }),
      inFlight: new Gauge({
        name: "shop_db_operations_in_flight",
        help: "Store operations running now; above the pool size, operations wait for a connection.",
        labelNames: ["store"],
        registers: [registry],
      }),
      pool: new Gauge({
        name: "shop_db_pool_max_connections",
        help: "The size of the store's connection pool.",
        labelNames: ["store"],
        registers: [registry],
      }),
    };
    created.set(registry, metrics);
  }
  return metrics;
}

/**
 * Wraps a store (an object whose methods return promises, like every store port of the services) so that
 * each call is timed into `shop_db_operation_seconds{store, operation, outcome}` (outcome `ok` or
 * `error`) and counted in `shop_db_operations_in_flight{store}` while it runs; `poolSize` goes into
 * `shop_db_pool_max_connections{store}`. Wrapping the port, not the driver, works for postgres.js and the
 * MongoDB driver alike (postgres.js has no hook that reports query durations or pool usage) and measures
 * what a request waits for: pool wait, queries and round trips. Methods that return no promise pass
 * through untimed.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * const store = instrumentStore({ find: (id: string) => Promise.resolve(id) }, {
 *   registry: new Registry(),
 *   store: "postgres",
 *   poolSize: 10,
 * });
 * await store.find("u-1");
 * ```
 */
export function instrumentStore<T extends object>(store: T, options: StoreMetricsOptions): T {
  const { seconds, inFlight, pool } = metricsOf(options.registry);
  if (options.poolSize !== undefined) pool.set({ store: options.store }, options.poolSize);
  inFlight.set({ store: options.store }, 0);
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string" || property === "constructor") {
        return value;
      }
      const method = value as (...args: unknown[]) => unknown;
      const operation = property;
      return (...args: unknown[]) => {
        const start = performance.now();
        // A span per store operation (its queries, or its transaction), under the traced call that made it.
        const span = insideTracedCall()
          ? startChildSpan(`${options.store} ${operation}`, {
            "db.system": dbSystems[options.store] ?? options.store,
            "shop.store.operation": operation,
          })
          : undefined;
        // Called on the target itself: methods may use private fields, which a proxy does not have.
        const call = () => method.apply(target, args);
        let result: unknown;
        try {
          result = span ? span.run(call) : call();
        } catch (error) {
          span?.end(error);
          throw error;
        }
        if (!(result instanceof Promise)) {
          span?.end();
          return result;
        }
        const labels = { store: options.store, operation };
        inFlight.inc({ store: options.store });
        const done = (outcome: string, error?: unknown) => {
          inFlight.dec({ store: options.store });
          seconds.observe({ ...labels, outcome }, (performance.now() - start) / 1000);
          span?.end(error);
        };
        return result.then(
          (value) => {
            done("ok");
            return value;
          },
          (error) => {
            done("error", error);
            throw error;
          },
        );
      };
    },
  });
}
