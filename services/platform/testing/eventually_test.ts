import assert from "node:assert/strict";
import { eventually } from "./eventually.ts";

Deno.test("eventually() returns the probe's first value that is not undefined, null or false", async () => {
  let calls = 0;
  const value = await eventually("the third call", () => {
    calls++;
    if (calls === 1) throw new Error("not up yet");
    return calls === 3 ? { calls } : calls === 2 ? false : undefined;
  }, { intervalMs: 1 });
  assert.deepEqual(value, { calls: 3 });
});

Deno.test("eventually() names what it waited for and the probe's last error when it gives up", async () => {
  await assert.rejects(
    eventually("the server answers", () => Promise.reject(new Error("connection refused")), {
      timeoutMs: 30,
      intervalMs: 5,
    }),
    /gave up after 30 ms waiting until the server answers; last seen: connection refused/,
  );
});

Deno.test("eventually() reports what lastSeen() tells when it gives up", async () => {
  await assert.rejects(
    eventually("two hosts are healthy", () => false, {
      timeoutMs: 10,
      intervalMs: 5,
      lastSeen: () => [{ port: 4711, health: "unhealthy" }],
    }),
    /waiting until two hosts are healthy; last seen: \[\{"port":4711,"health":"unhealthy"\}\]/,
  );
});
