/**
 * The relay's counters on a service's `/metrics`: what the OutboxNotDelivering alert
 * (observability/rules/alerts.yml) watches.
 *
 * @module
 */
import { Counter, type Registry } from "prom-client";
import type { OutboxRelayMetrics } from "./outbox_relay.ts";

/**
 * `shop_outbox_deliveries_total{outbox, outcome}` on `registry`, `outcome` being `delivered` or `failed`
 * (an attempt that will be retried), both present from the start at 0.
 *
 * @example
 * ```ts ignore
 * const relay = new OutboxRelay({ outbox, deliver, metrics: outboxRelayMetrics(registry, "order_events") });
 * ```
 */
export function outboxRelayMetrics(registry: Registry, outbox: string): OutboxRelayMetrics {
  const name = "shop_outbox_deliveries_total";
  const existing = registry.getSingleMetric(name);
  const deliveries = existing instanceof Counter ? existing as Counter<"outbox" | "outcome"> : new Counter({
    name,
    help: "Entries of a transactional outbox delivered, and delivery attempts that failed (retried later).",
    labelNames: ["outbox", "outcome"],
    registers: [registry],
  });
  deliveries.inc({ outbox, outcome: "delivered" }, 0);
  deliveries.inc({ outbox, outcome: "failed" }, 0);
  return {
    delivered: () => deliveries.inc({ outbox, outcome: "delivered" }),
    failed: () => deliveries.inc({ outbox, outcome: "failed" }),
  };
}
