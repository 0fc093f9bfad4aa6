import assert from "node:assert/strict";
import { withFreePorts } from "./net.ts";
import { ProcessGroup, RUN_MARKER } from "./process_group.ts";
import { startRedis } from "./servers.ts";

Deno.test("a Redis of a process group keeps the group's mark, so a crashed run's Redis can be found", async () => {
  const group = await ProcessGroup.create();
  try {
    const redis = await withFreePorts(
      1,
      ([port = 0]) => startRedis(group, { port, dataDir: `${group.dir}/redis` }),
    );
    const environment = await Deno.readTextFile(`/proc/${redis.process.pid}/environ`);
    assert.ok(environment.split("\0").includes(`${RUN_MARKER}=${group.dir}`));
  } finally {
    await group.stop();
  }
});
