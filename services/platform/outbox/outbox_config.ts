import { duration } from "../config/fields.ts";

/**
 * The configuration group of an outbox's relay: how often due rows are sent (and failed ones retried,
 * with backoff), and how long delivered rows are kept (defaults: every second, 7 days).
 *
 * @example
 * ```ts
 * const schema = { events: outboxConfigSchema() }; // SHOP_<SERVICE>_EVENTS_INTERVAL, ..._KEEP_DELIVERED
 * ```
 */
export function outboxConfigSchema(): {
  interval: ReturnType<typeof duration>;
  keepDelivered: ReturnType<typeof duration>;
} {
  return {
    /** How often due rows are sent (and failed ones retried, with backoff). */
    interval: duration({ default: 1_000, min: 50, max: 60_000 }),
    /** How long delivered rows are kept. */
    keepDelivered: duration({ default: 7 * 24 * 3_600_000, min: 60_000 }),
  };
}
