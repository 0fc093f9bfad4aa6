import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { outboxRelayMetrics } from "./outbox_metrics.ts";
import { OutboxRelay } from "./outbox_relay.ts";

Deno.test("the relay counts what it delivered and the attempts that failed, per outbox", async () => {
  const registry = new Registry();
  const pending = [{ id: "a", attempts: 0 }, { id: "b", attempts: 0 }];
  const relay = new OutboxRelay({
    outbox: {
      claim: () => Promise.resolve(pending.splice(0)),
      markDelivered: () => Promise.resolve(),
      retryAt: () => Promise.resolve(),
      purgeDelivered: () => Promise.resolve(0),
    },
    deliver: (entry) => entry.id === "b" ? Promise.reject(new Error("receiver down")) : Promise.resolve(),
    metrics: outboxRelayMetrics(registry, "order_events"),
  });
  outboxRelayMetrics(registry, "other"); // a second outbox on the same registry
  await relay.relayDue();
  const text = await registry.metrics();
  assert.match(text, /shop_outbox_deliveries_total\{outbox="order_events",outcome="delivered"\} 1/);
  assert.match(text, /shop_outbox_deliveries_total\{outbox="order_events",outcome="failed"\} 1/);
  assert.match(text, /shop_outbox_deliveries_total\{outbox="other",outcome="delivered"\} 0/);
});
