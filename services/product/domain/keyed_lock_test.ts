import assert from "node:assert/strict";
import { KeyedLock } from "./keyed_lock.ts";

Deno.test("KeyedLock runs work of one key one at a time, in order, and keys independently", async () => {
  const lock = new KeyedLock();
  const events: string[] = [];
  const job = (key: string, n: number, ms: number) =>
    lock.run(key, async () => {
      events.push(`${key}${n}+`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`${key}${n}-`);
      return n;
    });
  const results = await Promise.all([job("a", 1, 20), job("a", 2, 1), job("b", 1, 5)]);
  assert.deepEqual(results, [1, 2, 1]);
  // a2 starts only after a1 ended; b runs beside a.
  assert.ok(events.indexOf("a2+") > events.indexOf("a1-"));
  assert.ok(events.indexOf("b1+") < events.indexOf("a1-"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(lock.size, 0);
});

Deno.test("KeyedLock keeps going after a failure and reports it to its caller", async () => {
  const lock = new KeyedLock();
  const failed = lock.run("a", () => Promise.reject(new Error("boom")));
  const next = lock.run("a", () => Promise.resolve("ok"));
  await assert.rejects(failed, /boom/);
  assert.equal(await next, "ok");
});
