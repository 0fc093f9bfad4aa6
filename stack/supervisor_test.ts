import assert from "node:assert/strict";
import { eventually, isRunning, ProcessGroup } from "@shop/platform/testing";
import { type Restart, superviseGroup } from "./supervisor.ts";

Deno.test("superviseGroup() restarts a program that exits, with growing pauses, and leaves the others alone", async () => {
  const group = await ProcessGroup.create();
  const steady = await group.start({ name: "steady", command: "sleep", args: ["60"] });
  // Exits at once every time it is started: each restart waits twice as long as the one before.
  await group.start({ name: "crashing", command: "sh", args: ["-c", "echo about to fail; exit 3"] });
  const restarts: Restart[] = [];
  const supervisor = superviseGroup(group, {
    baseDelayMs: 50,
    maxDelayMs: 200,
    pollMs: 20,
    onRestart: (restart) => restarts.push(restart),
  });
  try {
    await eventually("four restarts", () => restarts.length >= 4, { timeoutMs: 10_000 });
    assert.deepEqual(restarts.slice(0, 4).map((r) => [r.name, r.count, r.delayMs]), [
      ["crashing", 1, 50],
      ["crashing", 2, 100],
      ["crashing", 3, 200],
      ["crashing", 4, 200],
    ]);
    assert.match(restarts[0]?.logTail ?? "", /about to fail/);
    assert.equal(supervisor.restarts().get("steady"), undefined);
    assert.ok(isRunning(steady.pid));
  } finally {
    await supervisor.stop();
    await group.stop(1_000);
  }
});

Deno.test("superviseGroup() starts a killed program again under its name", async () => {
  const group = await ProcessGroup.create();
  const first = await group.start({ name: "server", command: "sleep", args: ["60"] });
  const supervisor = superviseGroup(group, { baseDelayMs: 10, pollMs: 20 });
  try {
    Deno.kill(first.pid, "SIGKILL");
    await eventually("the server runs again", () => {
      const now = group.processes.find((process) => process.name === "server");
      return now !== undefined && now.pid !== first.pid && isRunning(now.pid);
    }, { timeoutMs: 10_000 });
    assert.equal(supervisor.restarts().get("server"), 1);
    assert.equal(group.processes.filter((process) => process.name === "server").length, 1);
  } finally {
    await supervisor.stop();
    await group.stop(1_000);
  }
});
