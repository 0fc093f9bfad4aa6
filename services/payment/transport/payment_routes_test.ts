import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { BadRequestSchema, ErrorInfoSchema } from "@shop/proto/google";
import { PaymentProcessorService, PaymentService, PaymentStatus } from "@shop/proto/payment";
import { createPaymentsFixture, type PaymentsFixture } from "../testdata/fixtures.ts";
import { paymentAllowedPeers, paymentRoutes } from "./payment_routes.ts";
import { failure } from "@shop/platform/testing";

interface Clients {
  /** The processor as the order service calls it. */
  processor: ReturnType<typeof createClient<typeof PaymentProcessorService>>;
  /** The public ledger as the gateway calls it. */
  ledger: ReturnType<typeof createClient<typeof PaymentService>>;
  fixture: PaymentsFixture;
}

async function withService(body: (clients: Clients) => Promise<void>): Promise<void> {
  const fixture = createPaymentsFixture();
  const routes = paymentRoutes(fixture.payments);
  const asOrder = inMemoryTransport(routes, { peer: "order", allowedPeers: paymentAllowedPeers });
  const asGateway = inMemoryTransport(routes, { allowedPeers: paymentAllowedPeers });
  await body({
    processor: createClient(PaymentProcessorService, asOrder),
    ledger: createClient(PaymentService, asGateway),
    fixture,
  });
}

function as(id: string, role: "customer" | "admin" = "customer") {
  return { headers: gatewayClaims({ sub: id, role }) };
}

function reasonOf(error: ConnectError): string | undefined {
  return error.findDetails(ErrorInfoSchema)[0]?.reason;
}

const ada = crypto.randomUUID();
const admin = crypto.randomUUID();

function charge(paymentMethod = "pm_card_visa", orderId: string = crypto.randomUUID()) {
  return { orderId, userId: ada, amount: { currencyCode: "USD", amountMinor: 1999n }, paymentMethod };
}

Deno.test("Charge captures the order's amount and records a SUCCEEDED payment for the order's user", async () => {
  await withService(async ({ processor, ledger }) => {
    const request = charge();
    const { payment } = await processor.charge(request);
    assert.equal(payment?.status, PaymentStatus.SUCCEEDED);
    assert.equal(payment?.amount?.amountMinor, 1999n);
    assert.equal(payment?.userId, ada);
    assert.match(payment?.stripePaymentIntentId ?? "", /^pi_/);
    const { payments } = await ledger.listPayments({ orderId: request.orderId }, as(ada));
    assert.deepEqual(payments.map((p) => p.id), [payment?.id]);
    assert.equal(
      (await failure(
        ledger.listPayments({ orderId: request.orderId, pageToken: "eyJ0IjoxLCJpZCI6IngifQ" }, as(ada)),
      )).code,
      Code.InvalidArgument,
    );
  });
});

Deno.test("a charge repeated for one order, one after another or at once, charges once", async () => {
  await withService(async ({ processor, fixture }) => {
    const request = charge();
    const first = await processor.charge(request);
    const again = await processor.charge(request);
    const together = await Promise.all(Array.from({ length: 5 }, () => processor.charge(request)));
    const ids = new Set([first, again, ...together].map((r) => r.payment?.id));
    assert.equal(ids.size, 1);
    assert.equal(fixture.gateway.intents.size, 1);
  });
});

Deno.test("a decline is FAILED_PRECONDITION PAYMENT_DECLINED with its decline code, and leaves a FAILED payment", async () => {
  await withService(async ({ processor, ledger }) => {
    const request = charge("pm_card_chargeDeclinedInsufficientFunds");
    const declined = await failure(processor.charge(request));
    assert.equal(declined.code, Code.FailedPrecondition);
    assert.equal(reasonOf(declined), "PAYMENT_DECLINED");
    assert.equal(declined.findDetails(ErrorInfoSchema)[0]?.metadata.decline_code, "insufficient_funds");
    const { payments } = await ledger.listPayments({ orderId: request.orderId }, as(ada));
    assert.equal(payments[0]?.status, PaymentStatus.FAILED);
    assert.equal(payments[0]?.declineCode, "insufficient_funds");
    // Asking again reports the same decline; the card is not tried twice.
    assert.equal(reasonOf(await failure(processor.charge(request))), "PAYMENT_DECLINED");
  });
});

Deno.test("a lost answer from Stripe is retried with the same key and charges once", async () => {
  await withService(async ({ processor, fixture }) => {
    fixture.gateway.failNext("unavailable", "unavailable_after_action", "unavailable_after_action");
    const { payment } = await processor.charge(charge());
    assert.equal(payment?.status, PaymentStatus.SUCCEEDED);
    assert.equal(fixture.gateway.intents.size, 1);
  });
});

Deno.test("Stripe silent past the deadline is UNAVAILABLE; the payment stays PENDING and the retry settles it", async () => {
  await withService(async ({ processor, ledger, fixture }) => {
    const request = charge();
    fixture.gateway.failNext(
      "unavailable_after_action",
      "hang",
      "hang",
      "hang",
      "hang",
      "hang",
      "hang",
      "hang",
    );
    const unavailable = await failure(processor.charge(request, { timeoutMs: 400 }));
    assert.equal(unavailable.code, Code.Unavailable);
    const pending = await ledger.listPayments({ orderId: request.orderId }, as(ada));
    assert.equal(pending.payments[0]?.status, PaymentStatus.PENDING);
    fixture.gateway.clearFaults(); // Stripe is back.
    const { payment } = await processor.charge(request);
    assert.equal(payment?.status, PaymentStatus.SUCCEEDED);
    assert.equal(
      fixture.gateway.intents.size,
      1,
      "the PaymentIntent made before the silence was found again",
    );
  });
});

Deno.test("Charge and RefundOrder answer the order service only", async () => {
  await withService(async ({ fixture }) => {
    const fromGateway = createClient(
      PaymentProcessorService,
      inMemoryTransport(paymentRoutes(fixture.payments), { allowedPeers: paymentAllowedPeers }),
    );
    assert.equal(
      (await failure(fromGateway.charge(charge(), as(admin, "admin")))).code,
      Code.PermissionDenied,
    );
    assert.equal(fixture.gateway.intents.size, 0);
  });
});

Deno.test("Charge refuses a payment method that is not a Stripe id, naming the field", async () => {
  await withService(async ({ processor, fixture }) => {
    const error = await failure(processor.charge(charge("4242424242424242")));
    assert.equal(error.code, Code.InvalidArgument);
    const fields = error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
    assert.ok(fields.includes("payment_method"));
    assert.equal(fixture.gateway.intents.size, 0);
  });
});

Deno.test("RefundPayment is for admins; a refund beyond what is left is INVALID_ARGUMENT REFUND_EXCEEDS_PAYMENT", async () => {
  await withService(async ({ processor, ledger }) => {
    const { payment } = await processor.charge(charge());
    const id = payment?.id ?? "";
    assert.equal((await failure(ledger.refundPayment({ id }, as(ada)))).code, Code.PermissionDenied);

    const partial = await ledger.refundPayment(
      { id, amount: { currencyCode: "USD", amountMinor: 500n }, reason: "damaged box" },
      as(admin, "admin"),
    );
    assert.equal(partial.payment?.status, PaymentStatus.PARTIALLY_REFUNDED);
    assert.equal(partial.payment?.refundedAmount?.amountMinor, 500n);

    const tooMuch = await failure(
      ledger.refundPayment({ id, amount: { currencyCode: "USD", amountMinor: 1500n } }, as(admin, "admin")),
    );
    assert.equal(tooMuch.code, Code.InvalidArgument);
    assert.equal(reasonOf(tooMuch), "REFUND_EXCEEDS_PAYMENT");

    const rest = await ledger.refundPayment({ id }, as(admin, "admin"));
    assert.equal(rest.payment?.status, PaymentStatus.REFUNDED);
    assert.deepEqual(rest.payment?.refunds.map((r) => r.amount?.amountMinor), [500n, 1499n]);
    assert.equal(
      reasonOf(await failure(ledger.refundPayment({ id }, as(admin, "admin")))),
      "REFUND_EXCEEDS_PAYMENT",
    );
  });
});

Deno.test("a refund retried with the same request id refunds once", async () => {
  await withService(async ({ processor, ledger, fixture }) => {
    const { payment } = await processor.charge(charge());
    const request = {
      id: payment?.id ?? "",
      amount: { currencyCode: "USD", amountMinor: 700n },
      requestId: "refund-1",
    };
    fixture.gateway.failNext("unavailable_after_action");
    const results = await Promise.all([
      ledger.refundPayment(request, as(admin, "admin")),
      ledger.refundPayment(request, as(admin, "admin")),
    ]);
    const again = await ledger.refundPayment(request, as(admin, "admin"));
    for (const result of [...results, again]) assert.equal(result.payment?.refundedAmount?.amountMinor, 700n);
    assert.equal(fixture.gateway.refunds.length, 1);
  });
});

Deno.test("a refund in another currency is refused naming the field", async () => {
  await withService(async ({ processor, ledger }) => {
    const { payment } = await processor.charge(charge());
    const error = await failure(
      ledger.refundPayment(
        { id: payment?.id ?? "", amount: { currencyCode: "EUR", amountMinor: 1n } },
        as(admin, "admin"),
      ),
    );
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field, "amount.currency_code");
  });
});

Deno.test("RefundOrder refunds what is left once, and answers calmly when there is nothing to refund", async () => {
  await withService(async ({ processor, ledger, fixture }) => {
    const request = charge();
    const { payment } = await processor.charge(request);
    await ledger.refundPayment(
      { id: payment?.id ?? "", amount: { currencyCode: "USD", amountMinor: 999n } },
      as(admin, "admin"),
    );
    const first = await processor.refundOrder({ orderId: request.orderId, reason: "cancelled" });
    const again = await processor.refundOrder({ orderId: request.orderId, reason: "cancelled" });
    assert.equal(first.payment?.status, PaymentStatus.REFUNDED);
    assert.equal(again.payment?.refundedAmount?.amountMinor, 1999n);
    assert.equal(fixture.gateway.refunds.length, 2);
    assert.equal((await processor.refundOrder({ orderId: crypto.randomUUID() })).payment, undefined);

    const declined = charge("pm_card_chargeDeclined");
    await failure(processor.charge(declined));
    const nothing = await processor.refundOrder({ orderId: declined.orderId });
    assert.equal(nothing.payment?.status, PaymentStatus.FAILED);
    assert.equal(fixture.gateway.refunds.length, 2);
  });
});

Deno.test("RefundOrder settles a charge whose answer was lost before refunding it", async () => {
  await withService(async ({ processor, fixture }) => {
    const request = charge();
    fixture.gateway.failNext(
      "unavailable_after_action",
      "hang",
      "hang",
      "hang",
      "hang",
      "hang",
      "hang",
      "hang",
    );
    await failure(processor.charge(request, { timeoutMs: 300 }));
    fixture.gateway.clearFaults();
    const { payment } = await processor.refundOrder({
      orderId: request.orderId,
      reason: "saga compensation",
    });
    assert.equal(payment?.status, PaymentStatus.REFUNDED);
    assert.equal([...fixture.gateway.intents.values()][0]?.refundedMinor, 1999n);
  });
});

Deno.test("a payment is visible to its owner and admins; anyone else gets NOT_FOUND", async () => {
  await withService(async ({ processor, ledger }) => {
    const request = charge();
    const { payment } = await processor.charge(request);
    const id = payment?.id ?? "";
    assert.equal((await ledger.getPayment({ id }, as(ada))).payment?.id, id);
    assert.equal((await ledger.getPayment({ id }, as(admin, "admin"))).payment?.id, id);
    const eve = crypto.randomUUID();
    assert.equal((await failure(ledger.getPayment({ id }, as(eve)))).code, Code.NotFound);
    assert.equal(
      (await failure(ledger.listPayments({ orderId: request.orderId }, as(eve)))).code,
      Code.NotFound,
    );
    assert.equal((await failure(ledger.getPayment({ id }))).code, Code.Unauthenticated);
    const none = await ledger.listPayments({ orderId: crypto.randomUUID() }, as(eve));
    assert.deepEqual(none.payments, []);
  });
});
