/**
 * One deadline from the gateway down: the gateway waits longer for a checkout than the order service's
 * saga may run when the caller sets no deadline of its own, so a customer always hears the outcome
 * (PAID, AWAITING_PAYMENT or FAILED) instead of the gateway's timeout while the saga is still deciding.
 */
import assert from "node:assert/strict";
import { loadConfig } from "@shop/platform/config";
import { defaultGatewaySettings } from "../envoy/gateway_config.ts";
import { orderConfigSchema } from "../services/order/config.ts";

Deno.test("the gateway's upstream timeout sits above the order saga's default budget", () => {
  const gateway = defaultGatewaySettings("certs/dev", "endpoints", "proto/gen/shop.binpb");
  const order = loadConfig(orderConfigSchema, {
    envPrefix: "SHOP_ORDER",
    env: { SHOP_ORDER_DATABASE_URL: "postgres://127.0.0.1/x", SHOP_ORDER_TLS_CERTS_DIR: "certs/dev" },
  });
  assert.ok(
    gateway.upstreamTimeoutMs >= order.saga.budget + 1_000,
    `gateway ${gateway.upstreamTimeoutMs} ms vs saga ${order.saga.budget} ms`,
  );
});
