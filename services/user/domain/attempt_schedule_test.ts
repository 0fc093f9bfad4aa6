import assert from "node:assert/strict";
import { admitAttempt, releaseAttempt, waitAfter } from "./attempt_schedule.ts";

const schedule = { free: 3, firstWaitMs: 1_000, maxWaitMs: 10_000, resetAfterMs: 60_000 };

Deno.test("waits begin after the free attempts, double, and stop growing at the longest wait", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 100, 10_000].map((n) => waitAfter(schedule, n)),
    [0, 0, 0, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000],
  );
  assert.equal(waitAfter({ ...schedule, free: 0 }, 1), 1_000, "at least one attempt is free");
});

Deno.test("an attempt is refused until its wait has passed, and a quiet key starts over", () => {
  const at = (ms: number) => new Date(ms);
  const full = { attempts: 4, lastTime: at(0) };
  assert.deepEqual(admitAttempt(schedule, full, at(1_999)), { admitted: false, retryAt: at(2_000) });
  assert.deepEqual(admitAttempt(schedule, full, at(2_000)), {
    admitted: true,
    state: { attempts: 5, lastTime: at(2_000) },
  });
  assert.deepEqual(admitAttempt(schedule, full, at(62_000)), {
    admitted: true,
    state: { attempts: 1, lastTime: at(62_000) },
  });
  assert.deepEqual(admitAttempt(schedule, undefined, at(5)), {
    admitted: true,
    state: { attempts: 1, lastTime: at(5) },
  });
  assert.deepEqual(releaseAttempt({ attempts: 0, lastTime: at(0) }), { attempts: 0, lastTime: at(0) });
});

Deno.test("a caller whose clock reading is older than the last attempt is not refused while no wait is due", () => {
  const at = (ms: number) => new Date(ms);
  assert.deepEqual(admitAttempt(schedule, { attempts: 1, lastTime: at(1_000) }, at(990)), {
    admitted: true,
    state: { attempts: 2, lastTime: at(1_000) },
  });
  assert.deepEqual(admitAttempt(schedule, { attempts: 3, lastTime: at(1_000) }, at(990)), {
    admitted: false,
    retryAt: at(2_000),
  });
});
