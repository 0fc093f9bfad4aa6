import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import { MemorySentEmailStore } from "../store/memory_sent_email_store.ts";
import { FakeContacts, FakeMailer, paidEvent } from "../testdata/fakes.ts";
import { Notifications, type NotificationsDeps } from "./notifications.ts";

const ada = crypto.randomUUID();

function setup(overrides: Partial<NotificationsDeps> = {}) {
  let now = Date.parse("2026-11-29T12:00:00Z");
  const store = new MemorySentEmailStore();
  const mailer = new FakeMailer();
  const notifications = new Notifications({
    store,
    mailer,
    contacts: new FakeContacts({ [ada]: { email: "ada@example.com", displayName: "Ada" } }),
    instanceId: "test",
    holdMs: 10_000,
    now: () => new Date(now),
    ...overrides,
  });
  return { store, mailer, notifications, advance: (ms: number) => now += ms };
}

function kindOf(error: unknown): string {
  return error instanceof DomainError ? error.kind : String(error);
}

Deno.test("an event sends one email to its customer, with the event id as Message-ID; repeats send none", async () => {
  const { mailer, notifications } = setup();
  const event = paidEvent(ada);
  assert.equal(await notifications.notify(event), "sent");
  assert.equal(await notifications.notify(event), "already_sent");
  assert.equal(await notifications.notify({ ...event }), "already_sent");
  assert.equal(mailer.taken.length, 1);
  const [{ email, messageId }] = mailer.taken as [typeof mailer.taken[0]];
  assert.equal(messageId, `<${event.id}@shop.notification>`);
  assert.equal(email.to, "ada@example.com");
  assert.match(email.subject, /^Your order is confirmed/);
  assert.match(email.text, /2 x Kettle {2}USD 19\.99 each/);
  assert.match(email.text, /Total: USD 44\.48/);
  assert.match(email.text, /will email you again when it ships/);
});

Deno.test("a mail server that is down fails the delivery UNAVAILABLE; the next one sends the email", async () => {
  const { mailer, notifications } = setup();
  const event = paidEvent(ada);
  mailer.mode = "down";
  assert.equal(await notifications.notify(event).catch(kindOf), "unavailable");
  mailer.mode = "up";
  assert.equal(await notifications.notify(event), "sent");
  assert.equal(mailer.taken.length, 1);
});

Deno.test("a sender that died after the server took the email is never followed by a second one", async () => {
  let dies = true;
  const { mailer, notifications, advance } = setup({
    afterAccepted: () => {
      if (dies) throw new Error("killed");
    },
  });
  const event = paidEvent(ada);
  await assert.rejects(notifications.notify(event), /killed/);
  dies = false;
  // The relay tries again: while the dead sender's hold lasts it is told to wait, then it is done.
  assert.equal(await notifications.notify(event).catch(kindOf), "aborted");
  advance(10_000);
  assert.equal(await notifications.notify(event), "already_sent");
  assert.equal(mailer.taken.length, 1);
});

Deno.test("a connection that broke after the message's end leaves it unconfirmed and never resent", async () => {
  const { mailer, notifications, store } = setup();
  const event = paidEvent(ada);
  mailer.mode = "breaks_after_end";
  assert.equal(await notifications.notify(event), "unconfirmed");
  mailer.mode = "up";
  assert.equal(await notifications.notify(event), "already_sent");
  assert.equal(await store.stateOf(event.id), "unconfirmed");
  assert.equal(mailer.taken.length, 1);
});

Deno.test("an event of an account that is gone sends nothing and is acknowledged", async () => {
  const { mailer, notifications } = setup();
  assert.equal(await notifications.notify(paidEvent(crypto.randomUUID())), "no_customer");
  assert.equal(mailer.taken.length, 0);
});
