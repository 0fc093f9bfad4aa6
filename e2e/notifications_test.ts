/**
 * Order emails through the whole system: the order service writes an event with every status change,
 * its relay pushes it to the notification service, which emails the customer through Mailpit. Emails are
 * read back from Mailpit's API, by recipient: one per event, none lost, none doubled.
 */
import assert from "node:assert/strict";
import { createProduct, ok, type Order, placeOrder, type Rest, restClient, signIn, signUp } from "./rest.ts";
import { delay, type Stack, startStack } from "./stack.ts";

interface Email {
  subject: string;
  messageId: string;
}

/** The emails Mailpit holds for one recipient, oldest first. */
async function emailsTo(stack: Stack, address: string): Promise<Email[]> {
  const response = await fetch(
    `${stack.mailpitUrl}/api/v1/search?query=${encodeURIComponent(`to:"${address}"`)}`,
  );
  const { messages } = await response.json() as { messages: Array<{ Subject: string; MessageID: string }> };
  return messages.map((m) => ({ subject: m.Subject, messageId: m.MessageID })).reverse();
}

/** Waits until `address` has at least `count` emails (bounded), then a little longer, and returns them. */
async function awaitEmails(
  stack: Stack,
  address: string,
  count: number,
  timeoutMs = 45_000,
): Promise<Email[]> {
  const deadline = Date.now() + timeoutMs;
  while ((await emailsTo(stack, address)).length < count && Date.now() < deadline) await delay(250);
  // Long enough for a second copy of any of them to arrive if one were ever sent.
  await delay(2_000);
  return await emailsTo(stack, address);
}

async function shop(stack: Stack) {
  const rest: Rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const product = await createProduct(rest, admin.accessToken, {
    category: "mail",
    priceMinor: 1999,
    stock: 50,
  });
  return { rest, product };
}

Deno.test("order emails: one per status change, to the buyer, never two", async (t) => {
  await using stack = await startStack({ label: "notifications" });
  const { rest, product } = await shop(stack);

  await t.step("a PAID order sends one confirmation to the buyer", async () => {
    const buyer = await signUp(rest, "mailed");
    const { order } = ok<{ order: Order }>(
      await placeOrder(rest, buyer.accessToken, [{ productId: product.id, quantity: 2 }]),
      "place order",
    );
    assert.equal(order.status, "ORDER_STATUS_PAID");
    const emails = await awaitEmails(stack, buyer.email, 1);
    assert.equal(emails.length, 1, JSON.stringify(emails));
    assert.match(
      emails[0]?.subject ?? "",
      new RegExp(`^Your order is confirmed \\(order ${order.id.slice(0, 8)}\\)`),
    );
  });

  await t.step("a processing payment sends 'waiting for your payment', then 'confirmed'", async () => {
    const buyer = await signUp(rest, "patient");
    const { order } = ok<{ order: Order }>(
      await placeOrder(rest, buyer.accessToken, [{ productId: product.id, quantity: 1 }], {
        paymentMethod: "pm_card_processing_succeeds",
      }),
      "place order",
    );
    assert.equal(order.status, "ORDER_STATUS_AWAITING_PAYMENT");
    const emails = await awaitEmails(stack, buyer.email, 2);
    assert.deepEqual(emails.map((e) => e.subject.replace(/ \(order .*\)$/, "")), [
      "We are waiting for your payment",
      "Your order is confirmed",
    ]);
  });
});

Deno.test("an order service killed after the status change and before the relay ran still sends exactly one email", async () => {
  // TEST ONLY switch: the order service kills itself (SIGKILL) right after it stored PAID, with its event,
  // and before its relay (every second) could send the event.
  await using stack = await startStack({
    label: "notifications-crash",
    env: { order: { SHOP_ORDER_FAULTS_CRASH_AFTER: "committed" } },
  });
  const { rest, product } = await shop(stack);
  const buyer = await signUp(rest, "interrupted");
  const reply = await placeOrder(rest, buyer.accessToken, [{ productId: product.id, quantity: 1 }]);
  assert.ok(reply.status >= 500, `the order service died mid-call: ${reply.status}`);
  const [first] = stack.instances("order");
  assert.ok(first);
  await first.kill();
  assert.deepEqual(await emailsTo(stack, buyer.email), [], "nothing was sent before the restart");
  await stack.startInstance("order");
  const emails = await awaitEmails(stack, buyer.email, 1);
  assert.equal(emails.length, 1, JSON.stringify(emails));
  assert.match(emails[0]?.subject ?? "", /^Your order is confirmed/);
});
