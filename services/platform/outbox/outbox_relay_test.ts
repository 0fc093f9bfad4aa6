import assert from "node:assert/strict";
import { type Outbox, OutboxRelay } from "./outbox_relay.ts";

interface Row {
  id: number;
  attempts: number;
  due: number;
  delivered?: number;
}

/** An outbox in memory that hands out rows due now in the order they were written. */
class MemoryOutbox implements Outbox<Row> {
  rows: Row[] = [];
  claim(now: Date, until: Date, limit: number): Promise<Row[]> {
    const due = this.rows.filter((row) => row.delivered === undefined && row.due <= now.getTime()).slice(
      0,
      limit,
    );
    for (const row of due) row.due = until.getTime();
    return Promise.resolve(due.map((row) => ({ ...row })));
  }
  markDelivered(entries: readonly Row[], now: Date): Promise<void> {
    for (const entry of entries) {
      const row = this.rows.find((r) => r.id === entry.id);
      if (row) row.delivered = now.getTime();
    }
    return Promise.resolve();
  }
  retryAt(entry: Row, at: Date): Promise<void> {
    const row = this.rows.find((r) => r.id === entry.id);
    if (row) Object.assign(row, { attempts: row.attempts + 1, due: at.getTime() });
    return Promise.resolve();
  }
  purgeDelivered(before: Date): Promise<number> {
    const kept = this.rows.filter((row) => row.delivered === undefined || row.delivered >= before.getTime());
    const purged = this.rows.length - kept.length;
    this.rows = kept;
    return Promise.resolve(purged);
  }
}

function setup() {
  let now = 1_000_000;
  const outbox = new MemoryOutbox();
  outbox.rows = [1, 2, 3].map((id) => ({ id, attempts: 0, due: 0 }));
  const received: number[] = [];
  const receiver = { down: false };
  const relay = new OutboxRelay<Row>({
    outbox,
    deliver: (row) => {
      if (receiver.down) return Promise.reject(new Error("receiver unreachable"));
      received.push(row.id);
      return Promise.resolve();
    },
    baseBackoffMs: 1_000,
    maxBackoffMs: 4_000,
    keepDeliveredMs: 10_000,
    now: () => new Date(now),
    random: () => 1,
  });
  return { outbox, relay, received, receiver, advance: (ms: number) => now += ms };
}

Deno.test("relayDue() sends every due row once, in the outbox's order", async () => {
  const { relay, received } = setup();
  assert.equal(await relay.relayDue(), 3);
  assert.equal(await relay.relayDue(), 0);
  assert.deepEqual(received, [1, 2, 3]);
});

Deno.test("relayDue() retries a receiver that was down, with backoff doubling up to its cap", async () => {
  const { outbox, relay, received, receiver, advance } = setup();
  receiver.down = true;
  for (const pause of [1_000, 2_000, 4_000, 4_000]) {
    assert.equal(await relay.relayDue(), 0);
    advance(pause - 1);
    assert.equal(await relay.relayDue(), 0, "nothing is sent again before the backoff has passed");
    advance(1);
  }
  receiver.down = false;
  assert.equal(await relay.relayDue(), 3);
  assert.deepEqual(received, [1, 2, 3]);
  assert.deepEqual(outbox.rows.map((row) => row.attempts), [4, 4, 4]);
});

Deno.test("purgeDelivered() deletes only rows delivered longer ago than it keeps them", async () => {
  const { outbox, relay, advance } = setup();
  await relay.relayDue();
  advance(10_000);
  assert.equal(await relay.purgeDelivered(), 0);
  advance(1);
  assert.equal(await relay.purgeDelivered(), 3);
  assert.equal(outbox.rows.length, 0);
});

Deno.test("relayDue() sends a round's rows side by side; the ones that failed wait for their retry", async () => {
  const outbox = new MemoryOutbox();
  outbox.rows = [1, 2, 3].map((id) => ({ id, attempts: 0, due: 0 }));
  // Each delivery answers only once all three have started: one at a time would never finish.
  const started: number[] = [];
  let allStarted: () => void = () => {};
  const together = new Promise<void>((resolve) => allStarted = resolve);
  const relay = new OutboxRelay<Row>({
    outbox,
    deliver: async (row) => {
      started.push(row.id);
      if (started.length === 3) allStarted();
      await together;
      if (row.id === 2) throw new Error("receiver refused row 2");
    },
    now: () => new Date(1_000_000),
  });
  assert.equal(await relay.relayDue(), 2);
  assert.deepEqual(started, [1, 2, 3]);
  assert.deepEqual(outbox.rows.map((row) => [row.id, row.delivered !== undefined, row.attempts]), [
    [1, true, 0],
    [2, false, 1],
    [3, true, 0],
  ]);
});
