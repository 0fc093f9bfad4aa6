import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { startPeriodicJob } from "./periodic_job.ts";

/** A run that ends when the test says so. */
function controlledRuns() {
  const finishers: Array<() => void> = [];
  let started = 0;
  return {
    run: () => {
      started++;
      return new Promise<void>((resolve) => finishers.push(resolve));
    },
    started: () => started,
    finishCurrent: () => finishers.shift()?.(),
  };
}

Deno.test("startPeriodicJob() runs every interval, never twice at once", async () => {
  const clock = FakeTimers.install({ toFake: ["setInterval", "clearInterval"] });
  try {
    const runs = controlledRuns();
    const job = startPeriodicJob("test-job", 1_000, runs.run);
    assert.equal(runs.started(), 0);
    clock.tick(1_000);
    assert.equal(runs.started(), 1);
    clock.tick(3_000); // still running: the due runs are skipped
    assert.equal(runs.started(), 1);
    runs.finishCurrent();
    await Promise.resolve();
    await Promise.resolve();
    clock.tick(1_000);
    assert.equal(runs.started(), 2);
    runs.finishCurrent();
    await job.stop();
  } finally {
    clock.uninstall();
  }
});

Deno.test("PeriodicJob.stop() waits for the run in progress and starts no more", async () => {
  const clock = FakeTimers.install({ toFake: ["setInterval", "clearInterval"] });
  try {
    const runs = controlledRuns();
    const job = startPeriodicJob("test-job", 1_000, runs.run);
    clock.tick(1_000);
    let stopped = false;
    const stopping = job.stop().then(() => stopped = true);
    await Promise.resolve();
    assert.equal(stopped, false, "stop() returned while a run was in progress");
    runs.finishCurrent();
    await stopping;
    clock.tick(5_000);
    assert.equal(runs.started(), 1);
  } finally {
    clock.uninstall();
  }
});

Deno.test("a failed run is logged and the next one runs", async () => {
  const clock = FakeTimers.install({ toFake: ["setInterval", "clearInterval"] });
  try {
    let calls = 0;
    const job = startPeriodicJob("test-job", 1_000, () => {
      calls++;
      return Promise.reject(new Error("store down"));
    });
    clock.tick(1_000);
    await job.stop().then(() => {}); // the failed run has ended
    assert.equal(calls, 1);
    const again = startPeriodicJob("test-job", 1_000, () => {
      calls++;
      return calls === 2 ? Promise.reject(new Error("store down")) : Promise.resolve();
    });
    clock.tick(1_000);
    await Promise.resolve();
    await Promise.resolve();
    await Promise.resolve();
    clock.tick(1_000);
    assert.equal(calls, 3);
    await again.stop();
  } finally {
    clock.uninstall();
  }
});
