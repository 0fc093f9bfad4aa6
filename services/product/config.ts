/**
 * The product service's configuration schema (see the kit's README for how values are layered).
 *
 * @module
 */
import {
  duration,
  integer,
  modeField,
  serverConfigSchema,
  string,
  tlsConfigSchema,
} from "@shop/platform/config";
import { discoveryConfigSchema } from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";

/** Every key of the product service, with its default. */
export const productConfigSchema = {
  /** `dev` seeds the demo catalog at start; `production` seeds nothing. */
  mode: modeField(),
  // Its reads cost about a millisecond of CPU each, and the cart looks up every line of a cart at once: a
  // limit of 32, right for the order service's sagas, refused a few shoppers' carts (bench C1: 30% 503).
  server: serverConfigSchema({ port: 50052, maxInFlight: 128 }),
  tls: tlsConfigSchema(),
  mongo: {
    /**
     * A MongoDB connection string. Not the kit's `url` field: a replica set names several hosts
     * (`mongodb://a:27017,b:27017/?replicaSet=rs0`), which WHATWG URL parsing refuses.
     */
    url: string({
      secret: true,
      pattern: /^mongodb(\+srv)?:\/\/\S+$/,
      describe: "a MongoDB connection string (mongodb:// or mongodb+srv://)",
    }),
    database: string({ default: "shop_product", minLength: 1 }),
    maxPoolSize: integer({ default: 20, min: 1, max: 500 }),
    /** How long a call waits for a reachable server before it fails. */
    serverSelectionTimeout: duration({ default: 5_000, min: 100 }),
  },
  inventory: {
    /** How long a reservation holds its units unless committed or released. */
    reservationTtl: duration({ default: 15 * 60_000, min: 100, max: 7 * 24 * 3_600_000 }),
    /** How often each instance looks for expired reservations and half-done work. */
    sweepInterval: duration({ default: 30_000, min: 50, max: 3_600_000 }),
    /** How old half-done work must be before a sweep finishes it for a process presumed dead. */
    repairAfter: duration({ default: 30_000, min: 100 }),
    /**
     * How often each instance checks that the stock levels readers see show its own latest moves (a
     * late write of another instance may have put an older one back); the bound on such staleness.
     */
    levelRefreshInterval: duration({ default: 250, min: 10, max: 60_000 }),
  },
  catalog: {
    /**
     * How old what a GetProduct or ListProducts answers from may be: a change made through another
     * instance shows in every instance's reads that begin this long after it (one look-up of the change
     * log, and of each product's stock level, per period instead of per read). An instance's own changes
     * show at once. 0: every read looks up first (read-your-writes through any instance). At most 1 s.
     */
    staleness: duration({ default: 500, min: 0, max: 1_000 }),
  },
  discovery: discoveryConfigSchema(),
  /** `log.level`, and `log.ship.*`: the log store to ship lines to (`SHOP_LOG_SHIP_URL`), off by default. */
  log: logConfigSchema(),
};
