/**
 * The order service's configuration schema (see the kit's README for how values are layered).
 *
 * @module
 */
import {
  duration,
  modeField,
  oneOf,
  postgresConfigSchema,
  serverConfigSchema,
  string,
  tlsConfigSchema,
} from "@shop/platform/config";
import { discoveryConfigSchema } from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";
import { outboxConfigSchema } from "@shop/platform/outbox";

/** Every key of the order service, with its default. */
export const orderConfigSchema = {
  mode: modeField(),
  server: serverConfigSchema({ port: 50053, shutdownGrace: 20_000 }),
  tls: tlsConfigSchema(),
  database: postgresConfigSchema(),
  /** A fixed address of the product service; empty (the default) finds its instances through discovery. */
  product: {
    url: string({ default: "", pattern: /^(https:\/\/\S+)?$/, describe: "empty or an https:// URL" }),
  },
  /** A fixed address of the payment service; empty (the default) finds its instances through discovery. */
  payment: {
    url: string({ default: "", pattern: /^(https:\/\/\S+)?$/, describe: "empty or an https:// URL" }),
  },
  /** A fixed address of the notification service; empty (the default) finds it through discovery. */
  notification: {
    url: string({ default: "", pattern: /^(https:\/\/\S+)?$/, describe: "empty or an https:// URL" }),
  },
  /** The outbox of order events, relayed to the notification service. */
  events: outboxConfigSchema(),
  saga: {
    /**
     * How long a checkout may take when its caller sets no shorter deadline: forward steps retry a
     * dependency that is down within it, then the order fails. Below the gateway's route timeout (15 s),
     * so the customer hears the outcome.
     */
    budget: duration({ default: 12_000, min: 1_000, max: 60_000 }),
    /** How long a saga's lease lasts without progress before recovery may take the order. */
    lease: duration({ default: 30_000, min: 1_000 }),
    /** How often the recovery loop looks for stalled sagas. */
    recoveryInterval: duration({ default: 5_000, min: 100 }),
  },
  /**
   * TEST ONLY, off by default: kill this process with SIGKILL right after the named saga step is stored,
   * so crash tests can check that a restarted service converges.
   */
  faults: {
    crashAfter: oneOf(["", "reserved", "charged", "committed", "awaiting_payment", "compensated"] as const, {
      default: "",
    }),
  },
  discovery: discoveryConfigSchema(),
  /** `log.level`, and `log.ship.*`: the log store to ship lines to (`SHOP_LOG_SHIP_URL`), off by default. */
  log: logConfigSchema(),
};

/**
 * What production refuses of an order configuration: the TEST ONLY crash switch. Returns the start-up
 * error's message, or undefined when the configuration may run.
 *
 * @example
 * ```ts
 * productionRefusal({ mode: "production", faults: { crashAfter: "charged" } }); // "config: faults.crashAfter: ..."
 * ```
 */
export function productionRefusal(
  config: { mode: "dev" | "production"; faults: { crashAfter: string } },
): string | undefined {
  if (config.mode === "production" && config.faults.crashAfter) {
    return "config: faults.crashAfter: a TEST ONLY switch that kills the process mid-checkout; refused in production";
  }
  return undefined;
}
