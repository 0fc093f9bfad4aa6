/**
 * The order service's composition root: its store, its clients of the product and payment services, the
 * checkout saga and its recovery loop, on the kit's service skeleton (`runService`).
 *
 * @module
 */
import { currentTraceparent, inSpan, linkTo } from "@shop/platform/tracing";
import { createClient } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { instrumentStore } from "@shop/platform/metrics";
import { outboxRelayMetrics } from "@shop/platform/outbox";
import { runService } from "@shop/platform/service";
import { OrderNotificationService } from "@shop/proto/notification";
import { PaymentProcessorService } from "@shop/proto/payment";
import { InventoryService } from "@shop/proto/product";
import { orderConfigSchema, productionRefusal } from "./config.ts";
import { Checkout } from "./domain/checkout.ts";
import { orderEventRelay } from "./domain/order_event_relay.ts";
import { PostgresOrderStore } from "./store/postgres_order_store.ts";
import { inventoryOverConnect } from "./transport/inventory_client.ts";
import { notificationsOverConnect } from "./transport/notification_client.ts";
import { orderAllowedPeers, orderRoutes } from "./transport/order_routes.ts";
import { paymentsOverConnect } from "./transport/payment_client.ts";

await runService({
  service: "order",
  schema: orderConfigSchema,
  check: productionRefusal,
  setup: async ({ config, instanceId, log, metrics, postgres, every, transportTo }) => {
    const sql = await postgres(new URL("./store/migrations/", import.meta.url));

    // Each dependency at a fixed address when one is configured, else every live instance found in etcd.
    const productTransport = transportTo("product", config.product.url);
    const paymentTransport = transportTo("payment", config.payment.url);
    const notificationTransport = transportTo("notification", config.notification.url);

    const crashAfter = config.faults.crashAfter;
    if (crashAfter) {
      log.warn("TEST FAULT ARMED: the process kills itself after the saga step {step}", { step: crashAfter });
    }

    // The operator's counters (README "Metrics"), on the registry /metrics serves.
    const orders = new Counter({
      name: "shop_orders_total",
      help: "Orders that reached an outcome: paid, failed (the saga compensates) or cancelled.",
      labelNames: ["outcome"],
      registers: [metrics.registry],
    });
    const compensations = new Counter({
      name: "shop_saga_compensations_total",
      help: "Checkout sagas that turned to compensation (stock released, charge refunded), by reason.",
      labelNames: ["reason"],
      registers: [metrics.registry],
    });
    for (const outcome of ["paid", "failed", "cancelled"]) orders.inc({ outcome }, 0);

    const store = instrumentStore(new PostgresOrderStore(sql), {
      registry: metrics.registry,
      store: "postgres",
      poolSize: config.database.maxConnections,
    });
    const checkout = new Checkout({
      store,
      inventory: inventoryOverConnect(createClient(InventoryService, productTransport)),
      payments: paymentsOverConnect(createClient(PaymentProcessorService, paymentTransport)),
      instanceId,
      sagaBudgetMs: config.saga.budget,
      onEvent: (event) =>
        event.type === "order_settled"
          ? orders.inc({ outcome: event.outcome })
          : compensations.inc({ reason: event.reason }),
      leaseMs: config.saga.lease,
      // Each saga step is a span of the call (or the recovery round) that drives it.
      observeStep: (step, orderId, run) =>
        inSpan(`saga.${step}`, { attributes: { "shop.order.id": orderId, "shop.saga.step": step } }, run),
      // Resumed work (recovery, a payment's outcome) links to the trace that placed the order.
      observeResume: (orderId, traceParent, run) => {
        const link = linkTo(traceParent);
        return inSpan("saga.resume", {
          attributes: { "shop.order.id": orderId },
          ...(link ? { links: [link] } : {}),
        }, run);
      },
      currentTraceParent: currentTraceparent,
      ...(crashAfter
        ? { faultAfter: (point) => point === crashAfter ? Deno.kill(Deno.pid, "SIGKILL") : undefined }
        : {}),
    });

    // Resumes sagas whose process died or gave up (see domain/checkout.ts).
    every("saga-recovery", config.saga.recoveryInterval, async () => {
      const resumed = await checkout.recoverStalled();
      if (resumed > 0) log.info("Resumed {count} stalled checkouts", { count: resumed });
    });

    // Order events to the notification service, from the outbox (README "Order events").
    const relay = orderEventRelay({
      store,
      receiver: notificationsOverConnect(createClient(OrderNotificationService, notificationTransport)),
      keepDeliveredMs: config.events.keepDelivered,
      metrics: outboxRelayMetrics(metrics.registry, "order_events"),
      onFailure: ({ entry, attempts, error }) =>
        log.warning(
          "The notification service did not take an order event yet (attempt {attempts}): {error}",
          {
            orderId: entry.orderId,
            eventId: entry.id,
            attempts,
            error,
          },
        ),
    });
    every("relay-order-events", config.events.interval, async () => {
      await relay.relayDue();
      await relay.purgeDelivered();
    });

    return { routes: orderRoutes(checkout), allowedPeers: orderAllowedPeers };
  },
});
