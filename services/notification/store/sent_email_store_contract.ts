/**
 * The one contract every {@linkcode SentEmailStore} adapter must meet; each adapter's test file runs it.
 *
 * @module
 */
import { contractTest, type StoreFixture } from "@shop/platform/testing";
import assert from "node:assert/strict";
import type { SentEmailStore } from "../domain/ports.ts";

const t0 = Date.parse("2026-11-29T12:00:00Z");
const at = (seconds: number) => new Date(t0 + seconds * 1000);
const hold = (owner: string, untilSeconds = 60) => ({ owner, until: at(untilSeconds) });

/**
 * Registers the contract's tests for one adapter.
 *
 * @example
 * ```ts
 * import { MemorySentEmailStore } from "./memory_sent_email_store.ts";
 * sentEmailStoreContract("memory", () => Promise.resolve({ store: new MemorySentEmailStore(), cleanup: async () => {} }));
 * ```
 */
export function sentEmailStoreContract(
  name: string,
  fixture: () => Promise<StoreFixture<SentEmailStore>>,
): void {
  const test = contractTest(name, fixture);
  const order = crypto.randomUUID();

  test("an email is sent once: after sent, every later delivery is done", async (store) => {
    const event = crypto.randomUUID();
    assert.equal(await store.stateOf(event), undefined);
    assert.equal(await store.begin(event, order, hold("a"), at(0)), "send");
    assert.equal(await store.committing(event, "a"), true);
    await store.sent(event, at(1));
    assert.equal(await store.stateOf(event), "sent");
    assert.equal(await store.begin(event, order, hold("b"), at(2)), "done");
    assert.equal(await store.begin(event, order, hold("b", 1000), at(500)), "done");
  });

  test("of concurrent deliveries one sends, the others are busy until the hold expires", async (store) => {
    const event = crypto.randomUUID();
    const outcomes = await Promise.all(
      ["a", "b", "c", "d"].map((owner) => store.begin(event, order, hold(owner), at(0))),
    );
    assert.deepEqual(outcomes.toSorted(), ["busy", "busy", "busy", "send"]);
    // A sender that died before the end of the message: after its hold, the next one sends.
    assert.equal(await store.begin(event, order, hold("e", 120), at(59)), "busy");
    assert.equal(await store.begin(event, order, hold("e", 120), at(60)), "send");
    assert.equal(await store.committing(event, "a"), false, "a lost its hold: it may not send");
    assert.equal(await store.committing(event, "e"), true);
  });

  test("a sender that died after committing is never followed by another send", async (store) => {
    const event = crypto.randomUUID();
    await store.begin(event, order, hold("a"), at(0));
    await store.committing(event, "a");
    assert.equal(await store.begin(event, order, hold("b", 120), at(30)), "busy");
    assert.equal(await store.begin(event, order, hold("b", 120), at(60)), "done");
    assert.equal(await store.stateOf(event), "unconfirmed");
  });

  test("an abandoned email is sent by the next delivery; purge forgets only old settled emails", async (store) => {
    const [failed, settled] = [crypto.randomUUID(), crypto.randomUUID()];
    await store.begin(failed, order, hold("a"), at(0));
    await store.committing(failed, "a");
    await store.abandon(failed, "a");
    assert.equal(await store.stateOf(failed), "preparing");
    assert.equal(await store.begin(failed, order, hold("b"), at(1)), "send");
    await store.begin(settled, order, hold("a"), at(0));
    await store.unconfirmed(settled, at(10));
    assert.equal(await store.purge(at(10)), 0);
    assert.equal(await store.purge(at(11)), 1);
    assert.equal(await store.stateOf(settled), undefined);
    assert.equal(await store.stateOf(failed), "preparing");
  });
}
