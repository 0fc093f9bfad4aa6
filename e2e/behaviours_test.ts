/**
 * The behaviours of ARCHITECTURE.md section 6 through the gateway, on the whole stack with two product
 * instances: concurrent orders never oversell; an instance that stops (SIGTERM) leaves the rotation
 * before it stops serving; one that dies (SIGKILL) leaves within its lease TTL; a new instance gets
 * traffic without an Envoy restart. Instances are told apart by Envoy's per-host request counts (admin
 * `/clusters`) and by each instance's own `/metrics`.
 */
import assert from "node:assert/strict";
import { eventually, isRunning } from "@shop/platform/testing";
import {
  createProduct,
  ok,
  type Order,
  type Payment,
  paymentsOf,
  placeOrder,
  type Rest,
  restClient,
  signIn,
  signUp,
  stockOf,
} from "./rest.ts";
import { simulatorState } from "./simulator.ts";
import { delay, type Stack, type StackInstance, startStack } from "./stack.ts";

/** A lease TTL short enough for a test, long enough for a loaded 2-core machine to renew it. */
const ttlMs = 3_000;
/** What removal may take beyond the TTL: etcd's lease expiry check, the watch, the EDS write, Envoy. */
const propagationMarginMs = 2_000;

/** What a client looping on one REST call saw. */
interface LoopResult {
  calls: number;
  failures: Array<{ at: number; what: string }>;
}

/**
 * Calls `GET path` over and over from `workers` concurrent clients until stopped (bounded in calls and
 * time), recording every answer that is not a 200.
 */
function loop(rest: Rest, path: string, workers = 2): { calls(): number; stop(): Promise<LoopResult> } {
  let stopped = false;
  const result: LoopResult = { calls: 0, failures: [] };
  const deadline = Date.now() + 90_000;
  const runs = Array.from({ length: workers }, async () => {
    while (!stopped && result.calls < 20_000 && Date.now() < deadline) {
      result.calls++;
      try {
        const reply = await rest("GET", path);
        if (reply.status !== 200) {
          result.failures.push({ at: Date.now(), what: `${reply.status} ${JSON.stringify(reply.body)}` });
        }
      } catch (error) {
        result.failures.push({ at: Date.now(), what: String(error) });
      }
      await delay(5);
    }
  });
  return {
    calls: () => result.calls,
    stop: async () => {
      stopped = true;
      await Promise.all(runs);
      return result;
    },
  };
}

/** Envoy's request count for an instance's host in the product cluster (0 when it is not listed). */
async function envoyRequests(stack: Stack, instance: StackInstance): Promise<number> {
  return (await stack.clusterHosts("product")).find((h) => h.port === instance.port)?.requests ?? 0;
}

/** Polls until the instance's host is gone from the gateway's product cluster; returns when that was. */
function whenHostLeaves(stack: Stack, instance: StackInstance, timeoutMs: number): Promise<number> {
  return eventually(
    `${instance.name} (port ${instance.port}) is no longer listed by the gateway`,
    async () => !(await stack.clusterHosts("product")).some((h) => h.port === instance.port) && Date.now(),
    { timeoutMs, intervalMs: 25 },
  );
}

/** Waits (bounded) until a looping client's requests reach an instance through the gateway. */
async function waitForTraffic(stack: Stack, instance: StackInstance): Promise<void> {
  const before = await envoyRequests(stack, instance);
  await eventually(
    `${instance.name} gets a request through the gateway`,
    async () => await envoyRequests(stack, instance) > before,
    { timeoutMs: 20_000 },
  );
}

Deno.test({
  name: "the behaviours of ARCHITECTURE.md section 6 hold through the gateway with two product instances",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await using stack = await startStack({ label: "behaviours", productInstances: 2, discoveryTtlMs: ttlMs });
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const [product1, product2] = stack.instances("product");
  assert.ok(product1 && product2);

  await t.step(
    "concurrent orders never oversell: stock 5, 12 orders at once -> 5 PAID, stock 0, no net charge",
    async () => {
      const stock = 5;
      const product = await createProduct(rest, admin.accessToken, {
        category: `e2e-oversell-${crypto.randomUUID().slice(0, 8)}`,
        priceMinor: 1_500,
        stock,
      });
      const customers = await Promise.all(Array.from({ length: 12 }, (_, i) => signUp(rest, `buyer${i}`)));
      const reservesBefore = await Promise.all(
        [product1, product2].map((p) => stack.rpcsStarted(p, "ReserveStock")),
      );

      const replies = await Promise.all(
        customers.map((customer) =>
          placeOrder(rest, customer.accessToken, [{ productId: product.id, quantity: 1 }])
        ),
      );
      const orders = replies.map((reply) => ok<{ order: Order }>(reply, "an order").order);
      const paid = orders.filter((o) => o.status === "ORDER_STATUS_PAID");
      const failed = orders.filter((o) => o.status === "ORDER_STATUS_FAILED");
      assert.equal(paid.length, stock, orders.map((o) => `${o.status} ${o.failureReason}`).join("\n"));
      assert.equal(failed.length, orders.length - stock, "every other order FAILED; none is left PENDING");
      for (const order of failed) assert.match(order.failureReason, /stock/i, order.id);
      // Moves made by the other instance show in an instance's reads within `catalog.staleness` (500 ms).
      await delay(1_000);
      assert.equal(await stockOf(rest, product.id), 0, "stock ends at 0, never below");

      const reservesAfter = await Promise.all(
        [product1, product2].map((p) => stack.rpcsStarted(p, "ReserveStock")),
      );
      const served = reservesAfter.map((after, i) => after - (reservesBefore[i] ?? 0));
      assert.ok(served.every((n) => n > 0), `both product instances reserved stock: ${served.join(", ")}`);

      // The ledger: one SUCCEEDED payment of the price per PAID order; no money kept for a FAILED one.
      for (const order of orders) {
        const payments: Payment[] = await paymentsOf(rest, admin.accessToken, order.id);
        const net = payments
          .filter((p) => p.status !== "PAYMENT_STATUS_FAILED" && p.status !== "PAYMENT_STATUS_PENDING")
          .reduce((sum, p) => sum + BigInt(p.amount.amountMinor) - BigInt(p.refundedAmount.amountMinor), 0n);
        if (order.status === "ORDER_STATUS_PAID") {
          assert.deepEqual(payments.map((p) => [p.status, p.amount.amountMinor]), [[
            "PAYMENT_STATUS_SUCCEEDED",
            "1500",
          ]]);
        } else {
          assert.equal(net, 0n, `${order.id}: ${JSON.stringify(payments)}`);
          assert.ok(payments.every((p) => p.status !== "PAYMENT_STATUS_PENDING"), JSON.stringify(payments));
        }
      }
      // And Stripe's side (the simulator), which the ledger cannot overrule: charged minus refunded.
      const state = await simulatorState(stack);
      for (const order of orders) {
        const intents = state.paymentIntents.filter((i) => i.metadata?.order_id === order.id);
        const charged = intents.filter((i) => i.status === "succeeded").reduce((sum, i) => sum + i.amount, 0);
        const refunded = state.refunds
          .filter((r) => intents.some((i) => i.id === r.payment_intent) && r.status !== "failed")
          .reduce((sum, r) => sum + r.amount, 0);
        assert.equal(charged - refunded, order.status === "ORDER_STATUS_PAID" ? 1_500 : 0, order.id);
      }
    },
  );

  await t.step(
    "an instance that stops (SIGTERM) leaves the rotation before it stops serving; no client fails",
    async () => {
      const client = loop(rest, "/v1/products?pageSize=1");
      let result: LoopResult | undefined;
      try {
        await waitForTraffic(stack, product2);
        let exitedAt: number | undefined;
        const exited = product2.stop().then((status) => {
          exitedAt = Date.now();
          return status;
        });
        const leftAt = await whenHostLeaves(stack, product2, ttlMs + propagationMarginMs);
        assert.equal(exitedAt, undefined, "the gateway dropped the instance while it was still running");
        assert.ok(isRunning(product2.process.child.pid), "still running when it left the rotation");
        await exited;
        assert.ok(exitedAt !== undefined && leftAt < exitedAt);
        // More calls, served by product-1 alone.
        const served = client.calls();
        await eventually("20 more calls after product-2 exited", () => client.calls() >= served + 20);
      } finally {
        result = await client.stop();
      }
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.calls} calls failed`);
      assert.ok(result.calls > 0);
    },
  );

  let product3: StackInstance | undefined;

  await t.step("a product instance started later receives traffic without an Envoy restart", async () => {
    const envoyPid = stack.gateway.envoy.process.pid;
    product3 = await stack.startInstance("product");
    await stack.waitForHosts(
      "product",
      `${product3.name} healthy`,
      (hosts) => hosts.some((h) => h.port === product3?.port && h.healthFlags === "healthy"),
      { timeoutMs: 20_000 },
    );
    const client = loop(rest, "/v1/products?pageSize=1");
    let result: LoopResult | undefined;
    try {
      await waitForTraffic(stack, product3);
    } finally {
      result = await client.stop();
    }
    assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.calls} calls failed`);
    assert.equal(stack.gateway.envoy.process.pid, envoyPid);
    assert.ok(isRunning(envoyPid), "the same Envoy process serves on");
    // The instance's own count agrees that the calls reached it.
    assert.ok(await stack.rpcsStarted(product3, "ListProducts") > 0);
  });

  await t.step(
    "an instance that dies (SIGKILL) leaves within its lease TTL, with at most a brief blip",
    async () => {
      assert.ok(product3, "the previous step started product-3");
      const victim = product3;
      const client = loop(rest, "/v1/products?pageSize=1");
      let killedAt = 0;
      let leftAt = 0;
      let result: LoopResult | undefined;
      try {
        await waitForTraffic(stack, victim);
        killedAt = Date.now();
        await victim.kill();
        leftAt = await whenHostLeaves(stack, victim, ttlMs + propagationMarginMs + 5_000);
        assert.ok(
          leftAt - killedAt <= ttlMs + propagationMarginMs,
          `it left ${leftAt - killedAt} ms after the kill; the TTL is ${ttlMs} ms`,
        );
        // Calls go on for over a second after it left: a failure then would be one too late.
        const calls = client.calls();
        await eventually(
          "20 more calls and a second after it left the rotation",
          () => client.calls() >= calls + 20 && Date.now() > leftAt + 1_000,
        );
      } finally {
        result = await client.stop();
      }
      const late = result.failures.filter((f) => f.at > leftAt + 1_000 || f.at < killedAt);
      assert.deepEqual(late, [], "no failure outside the window between the kill and the removal");
      assert.ok(result.calls > result.failures.length);
      ok(await rest("GET", "/v1/products?pageSize=1"), "product-1 serves on");
    },
  );
});
