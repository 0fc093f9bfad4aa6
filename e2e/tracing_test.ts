/**
 * Distributed tracing (issue 20), against the whole stack with its trace store: a checkout through the
 * gateway is one trace, read back over Jaeger's query API, with every hop in place.
 */
import assert from "node:assert/strict";
import { address, createProduct, ok, type Order, type Rest, restClient, signIn, signUp } from "./rest.ts";
import { launchBrowser, newVisitor, snapshot } from "./browser.ts";
import { startStack } from "./stack.ts";
import { eventually } from "@shop/platform/testing";
import {
  describeTrace,
  findTraces,
  newTraceparent,
  readTrace,
  type Trace,
  type TracedSpan,
} from "./traces.ts";

function orderBody(productId: string, paymentMethod: string) {
  return {
    requestId: crypto.randomUUID(),
    items: [{ productId, quantity: 1 }],
    shippingAddress: address,
    paymentMethod,
  };
}

/** The one span of `service` named `name` (a suffix of it: rpc names are fully qualified); fails unless exactly one. */
function only(trace: Trace, service: string, name: string): TracedSpan {
  const found = trace.spans.filter((span) => span.service === service && span.name.endsWith(name));
  assert.equal(
    found.length,
    1,
    `one ${service} span ${name}, found ${found.length} in\n${describeTrace(trace)}`,
  );
  return found[0] as TracedSpan;
}

function parentOf(trace: Trace, span: TracedSpan): TracedSpan {
  const parent = trace.spans.find((candidate) => candidate.spanId === span.parentId);
  assert.ok(parent, `${span.service} ${span.name} has its parent in the trace\n${describeTrace(trace)}`);
  return parent;
}

/** The nearest ancestor of `span` that is a server span of an RPC (or the webhook route). */
function enclosingServerSpan(trace: Trace, span: TracedSpan): TracedSpan | undefined {
  let current = trace.spans.find((candidate) => candidate.spanId === span.parentId);
  while (current && current.tags["span.kind"] !== "server") {
    const parentId = current.parentId;
    current = trace.spans.find((candidate) => candidate.spanId === parentId);
  }
  return current;
}

async function placeTraced(rest: Rest, token: string, productId: string, paymentMethod: string) {
  const { traceparent, traceId } = newTraceparent();
  const reply = await rest("POST", "/v1/orders", {
    token,
    headers: { traceparent },
    body: orderBody(productId, paymentMethod),
  });
  return { order: ok<{ order: Order }>(reply, "place order").order, traceId };
}

// Every process exports in its own batches, and the spans that end last (CreateOrder, the gateway's)
// may arrive after the others: complete means every span the assertions look at is in.
const checkoutComplete = (trace: Trace) =>
  trace.spans.some((span) => span.service === "order" && span.name.endsWith("OrderService/CreateOrder")) &&
  trace.spans.filter((span) => span.service === "gateway").length >= 2 &&
  trace.spans.some((span) => span.service === "order" && span.name === "saga.commit") &&
  ["gateway", "order", "product", "payment"].every((service) =>
    trace.spans.some((s) => s.service === service)
  ) &&
  trace.spans.some((span) => span.name.endsWith("CommitReservation") && span.service === "product") &&
  trace.spans.some((span) => span.name === "POST /v1/payment_intents");

Deno.test("tracing: a checkout through the gateway is one trace across every service", async (t) => {
  await using stack = await startStack({ label: "tracing", tracing: { sampleRatio: 1 } });
  const queryUrl = stack.traceQueryUrl;
  assert.ok(queryUrl, "the stack runs a trace store");
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const customer = await signUp(rest, "tracy");
  const product = await createProduct(rest, admin.accessToken, {
    category: "traced",
    priceMinor: 700,
    stock: 10,
  });

  await t.step(
    "CreateOrder's whole span tree: which spans, under which parents, in which services",
    async () => {
      const { order, traceId } = await placeTraced(rest, customer.accessToken, product.id, "pm_card_visa");
      assert.equal(order.status, "ORDER_STATUS_PAID");
      const trace = await readTrace(queryUrl, traceId, checkoutComplete);
      const tree = describeTrace(trace);
      assert.ok(trace.spans.every((span) => span.spanId.length > 0), tree);

      // The gateway continues the client's trace; the order service's server span is under the gateway's.
      const createOrder = only(trace, "order", "shop.order.v1.OrderService/CreateOrder");
      assert.equal(createOrder.tags["span.kind"], "server", tree);
      assert.equal(createOrder.tags["rpc.grpc.status_code"], 0, tree);
      assert.equal(createOrder.tags["rpc.method"], "CreateOrder", tree);
      assert.equal(parentOf(trace, createOrder).service, "gateway", tree);

      // The saga's steps under CreateOrder, each carrying the order id.
      const steps = ["saga.reserve", "saga.charge", "saga.commit"].map((name) => only(trace, "order", name));
      for (const step of steps) {
        assert.equal(
          parentOf(trace, step).spanId,
          createOrder.spanId,
          `${step.name} under CreateOrder\n${tree}`,
        );
        assert.equal(step.tags["shop.order.id"], order.id, tree);
      }
      const [reserve, charge, commit] = steps as [TracedSpan, TracedSpan, TracedSpan];

      // Each step's client span, and the callee's server span under it, in the callee's service.
      const hops: Array<[TracedSpan, string, string]> = [
        [reserve, "product", "shop.product.v1.InventoryService/ReserveStock"],
        [charge, "payment", "shop.payment.v1.PaymentProcessorService/Charge"],
        [commit, "product", "shop.product.v1.InventoryService/CommitReservation"],
      ];
      for (const [step, service, rpc] of hops) {
        const client = trace.spans.find((span) =>
          span.service === "order" && span.name === rpc && span.tags["span.kind"] === "client"
        );
        assert.ok(client, `order's client span ${rpc}\n${tree}`);
        assert.equal(client.parentId, step.spanId, `${rpc} client span under ${step.name}\n${tree}`);
        const server = trace.spans.find((span) =>
          span.service === service && span.name === rpc && span.tags["span.kind"] === "server"
        );
        assert.ok(server, `${service}'s server span ${rpc}\n${tree}`);
        assert.equal(server.parentId, client.spanId, `${service} ${rpc} under order's client span\n${tree}`);
      }

      // The call to Stripe (the simulator) under payment's Charge.
      const stripe = only(trace, "payment", "POST /v1/payment_intents");
      assert.equal(stripe.tags["peer.service"], "stripe", tree);
      assert.equal(
        enclosingServerSpan(trace, stripe)?.name,
        "shop.payment.v1.PaymentProcessorService/Charge",
        tree,
      );

      // Database spans, each under the RPC of its own service that made it; no values in them.
      const databaseSpans = trace.spans.filter((span) => span.tags["db.system"] !== undefined);
      for (const service of ["order", "product", "payment"]) {
        assert.ok(
          databaseSpans.some((span) => span.service === service),
          `database spans in ${service}\n${tree}`,
        );
      }
      for (const span of databaseSpans) {
        const rpc = enclosingServerSpan(trace, span);
        assert.ok(rpc, `${span.service} ${span.name} is under an RPC\n${tree}`);
        assert.equal(
          rpc.service,
          span.service,
          `${span.service} ${span.name} under its own service's RPC\n${tree}`,
        );
        assert.ok(!JSON.stringify(span.tags).includes(order.id), `no values in ${span.name}\n${tree}`);
      }
      // One span per SQL statement (postgres.js), under the store operation that ran it, which stays.
      const statements = databaseSpans.filter((span) =>
        span.tags["db.system"] === "postgresql" && span.tags["db.operation.name"] !== undefined
      );
      for (const span of statements) {
        const operation = parentOf(trace, span);
        assert.equal(operation.service, span.service, tree);
        assert.equal(
          operation.tags["db.system"],
          "postgresql",
          `${span.name} under a store operation\n${tree}`,
        );
        assert.ok(operation.tags["shop.store.operation"], `${span.name} under a store operation\n${tree}`);
        assert.match(String(span.tags["db.operation.name"]), /^[A-Z]+$/, tree);
      }
      const orderInsert = statements.find((span) =>
        span.service === "order" && span.tags["db.operation.name"] === "INSERT" &&
        span.tags["db.collection.name"] === "orders"
      );
      assert.ok(orderInsert, `order's INSERT into orders is a span\n${tree}`);
      assert.equal(enclosingServerSpan(trace, orderInsert)?.spanId, createOrder.spanId, tree);
      assert.ok(
        statements.some((span) =>
          span.service === "payment" && span.tags["db.collection.name"] === "payments"
        ),
        `payment's statements on payments are spans\n${tree}`,
      );
      const mongoCommands = databaseSpans.filter((span) =>
        span.tags["db.system"] === "mongodb" && span.tags["db.operation.name"] !== undefined
      );
      assert.ok(
        mongoCommands.some((span) => span.tags["db.collection.name"] !== undefined),
        `MongoDB command spans with their collection\n${tree}`,
      );

      // Every span belongs to one of the shop's services.
      assert.deepEqual(
        [...new Set(trace.spans.map((span) => span.service))].sort(),
        ["gateway", "order", "payment", "product"],
        tree,
      );
    },
  );

  await t.step("a declined payment's trace carries the error on the span that saw it", async () => {
    const { order, traceId } = await placeTraced(
      rest,
      customer.accessToken,
      product.id,
      "pm_card_chargeDeclined",
    );
    assert.equal(order.status, "ORDER_STATUS_FAILED");
    const trace = await readTrace(
      queryUrl,
      traceId,
      (t) =>
        t.spans.some((span) => span.name === "POST /v1/payment_intents" && span.failed) &&
        t.spans.some((span) => span.service === "order" && span.name.endsWith("ReleaseReservation")) &&
        t.spans.some((span) => span.service === "order" && span.name.endsWith("OrderService/CreateOrder")),
    );
    const tree = describeTrace(trace);
    // Stripe's refusal (402) is on the span of the call that got it, under payment's Charge.
    const stripeCalls = trace.spans.filter((span) => span.name === "POST /v1/payment_intents");
    const refused = stripeCalls.find((span) => span.tags["http.response.status_code"] === 402);
    assert.ok(refused?.failed, `a failed Stripe call answered 402\n${tree}`);
    for (const call of stripeCalls) {
      assert.equal(parentOf(trace, call).name, "shop.payment.v1.PaymentProcessorService/Charge", tree);
      assert.equal(parentOf(trace, call).service, "payment", tree);
    }
    // The refusal travels back as the Charge RPC's error, on payment's server spans and order's client
    // spans (a slow machine may make order try the charge more than once: each try fails the same way).
    const charges = trace.spans.filter((span) =>
      span.name === "shop.payment.v1.PaymentProcessorService/Charge"
    );
    for (const service of ["order", "payment"]) {
      const ofService = charges.filter((span) => span.service === service);
      assert.ok(
        ofService.length > 0 && ofService.every((span) => span.failed),
        `${service}'s Charge failed\n${tree}`,
      );
    }
    // The order itself was answered (FAILED is an outcome, not an error of CreateOrder).
    assert.equal(only(trace, "order", "OrderService/CreateOrder").failed, false, tree);
  });

  await t.step("the order's log lines carry the trace id of its trace", async () => {
    const { order, traceId } = await placeTraced(rest, customer.accessToken, product.id, "pm_card_visa");
    await readTrace(queryUrl, traceId, checkoutComplete);
    const [orderInstance] = stack.instances("order");
    assert.ok(orderInstance);
    const lines = orderInstance.process.logs.filter((line) => line.trace_id === traceId);
    assert.ok(lines.length > 0, `order log lines with trace_id ${traceId}`);
    assert.ok(lines.every((line) => typeof line.span_id === "string" && line.span_id.length === 16));
    assert.ok(order.id);
  });

  await t.step(
    "a payment finished by Stripe's webhook: the webhook's trace reaches the order and links to the checkout's",
    async () => {
      const { order, traceId } = await placeTraced(
        rest,
        customer.accessToken,
        product.id,
        "pm_card_processing_succeeds",
      );
      assert.equal(order.status, "ORDER_STATUS_AWAITING_PAYMENT");
      const paid = await eventually(`order ${order.id} is paid`, async () => {
        const reply = await rest("GET", `/v1/orders/${order.id}`, { token: customer.accessToken });
        const found = ok<{ order: Order }>(reply, "get order").order;
        return found.status === "ORDER_STATUS_AWAITING_PAYMENT" ? undefined : found;
      }, { timeoutMs: 45_000 });
      assert.equal(paid.status, "ORDER_STATUS_PAID");
      const resumeName = "shop.order.v1.PaymentOutcomeService/RecordPaymentOutcome";
      // The webhook's trace: the one of this order's traces, not the checkout's, where the saga resumed.
      const webhookTraceId = await eventually(`the webhook's trace of order ${order.id}`, async () => {
        const traces = await findTraces(queryUrl, "order", { "shop.order.id": order.id });
        return traces.find((found) =>
          found.traceId !== traceId && found.spans.some((span) => span.name === "saga.resume")
        )?.traceId;
      }, { timeoutMs: 30_000 });
      const trace = await readTrace(
        queryUrl,
        webhookTraceId,
        (t) =>
          t.spans.some((span) => span.service === "gateway") &&
          t.spans.some((span) => span.service === "payment" && span.name === "POST /v1/webhooks/stripe") &&
          t.spans.some((span) => span.name === "saga.resume") &&
          t.spans.some((span) => span.service === "order" && span.name === resumeName) &&
          // The relay's spans come in payment's next export batch, a moment after order's.
          t.spans.some((span) => span.service === "payment" && span.name === resumeName) &&
          t.spans.some((span) => span.service === "payment" && span.name === "outbox.relay order_notices"),
      );
      const tree = describeTrace(trace);
      // saga.resume links to the checkout's trace, and runs under order's RecordPaymentOutcome...
      const resume = only(trace, "order", "saga.resume");
      assert.deepEqual(resume.links.map((link) => link.traceId), [traceId], tree);
      assert.equal(resume.tags["shop.order.id"], order.id, tree);
      const recorded = parentOf(trace, resume);
      assert.equal(recorded.name, resumeName, tree);
      assert.equal(recorded.tags["span.kind"], "server", tree);
      // ...called by payment's outbox relay, in the trace of the webhook that settled the charge...
      const call = parentOf(trace, recorded);
      assert.equal(call.service, "payment", tree);
      assert.equal(call.tags["span.kind"], "client", tree);
      const relay = parentOf(trace, call);
      assert.equal(relay.name, "outbox.relay order_notices", tree);
      assert.equal(relay.tags["shop.order.id"], order.id, tree);
      const webhook = enclosingServerSpan(trace, relay);
      assert.equal(webhook?.name, "POST /v1/webhooks/stripe", tree);
      assert.equal(webhook?.service, "payment", tree);
      // ...which came in through the gateway.
      assert.equal(webhook && parentOf(trace, webhook).service, "gateway", tree);
    },
  );

  await t.step("the trace viewer finds the checkout by its order id and draws its span tree", async () => {
    const { order, traceId } = await placeTraced(rest, customer.accessToken, product.id, "pm_card_visa");
    await readTrace(queryUrl, traceId, checkoutComplete);
    await using browser = await launchBrowser();
    const { page, errors } = await newVisitor(browser, { width: 1280 });
    // Served by the trace store itself, on the address `deno task dev` prints.
    await page.goto(queryUrl);
    await page.getByRole("heading", { name: "Find traces" }).waitFor();
    await page.getByLabel("Service").selectOption("order");
    // Jaeger matches the operation and the tags on one span: the saga's steps carry the order id.
    await page.getByLabel("Operation").selectOption("saga.commit");
    await page.getByLabel(/^Tags/).fill(`shop.order.id=${order.id}`);
    await page.getByRole("button", { name: "Find traces" }).click();
    const found = page.getByRole("region", { name: "Traces found" });
    await found.getByRole("heading", { name: "1 trace", exact: true }).waitFor();
    await snapshot(page, "traces-search");
    await found.getByRole("link", { name: /^gateway / }).click();

    const spans = page.getByRole("list", { name: "Spans" });
    await spans.getByRole("button", { name: /saga\.commit/ }).waitFor();
    const rows = await spans.getByRole("button").allTextContents();
    const tree = rows.join("\n");
    for (
      const expected of [
        /^gateway /,
        /^order shop\.order\.v1\.OrderService\/CreateOrder/,
        /^order saga\.reserve/,
        /^product shop\.product\.v1\.InventoryService\/ReserveStock/,
        /^payment shop\.payment\.v1\.PaymentProcessorService\/Charge/,
        /^payment POST \/v1\/payment_intents/,
        /^product shop\.product\.v1\.InventoryService\/CommitReservation/,
      ]
    ) {
      assert.ok(rows.some((row) => expected.test(row)), `the waterfall shows ${expected}\n${tree}`);
    }
    // The rows are the tree in order: CreateOrder under the gateway, its saga steps under it.
    const depthOf = async (name: RegExp) =>
      Number(await spans.getByRole("listitem").filter({ hasText: name }).first().getAttribute("data-depth"));
    const createOrderDepth = await depthOf(/OrderService\/CreateOrder/);
    assert.ok(createOrderDepth >= 1, `CreateOrder is under the gateway's spans\n${tree}`);
    assert.equal(await depthOf(/saga\.charge/), createOrderDepth + 1, tree);
    assert.ok(
      rows.findIndex((row) => /saga\.reserve/.test(row)) < rows.findIndex((row) => /saga\.commit/.test(row)),
      `the steps in the order they ran\n${tree}`,
    );

    // A span's tags, once chosen.
    await spans.getByRole("button", { name: /saga\.charge/ }).click();
    const details = page.getByRole("region", { name: "Selected span" });
    await details.getByRole("cell", { name: order.id }).waitFor();
    await snapshot(page, "traces-checkout");
    assert.deepEqual(errors, [], "no error in the viewer's console");
  });
});
