import assert from "node:assert/strict";
import { eventually } from "./eventually.ts";
import { isRunning, ProcessGroup, RUN_MARKER } from "./process_group.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("ProcessGroup.stop() stops every process and removes the group's directory", async () => {
  const root = await Deno.makeTempDir({ prefix: "shop-pg-test-" });
  try {
    const group = await ProcessGroup.create({ root });
    const a = await group.start({ name: "a", command: "sleep", args: ["300"] });
    // A process that ignores SIGTERM still goes: the group falls back to SIGKILL.
    const b = await group.start({
      name: "b",
      command: "sh",
      args: ["-c", `trap '' TERM; touch ${group.dir}/b-ready; while :; do sleep 1; done`],
    });
    await eventually("b has set its trap", () => exists(`${group.dir}/b-ready`), { timeoutMs: 20_000 });
    assert.ok(isRunning(a.pid) && isRunning(b.pid));
    await group.stop(500);
    assert.equal(isRunning(a.pid), false);
    assert.equal(isRunning(b.pid), false);
    assert.equal(await exists(group.dir), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ProcessGroup stops its servers when its owner is killed", async () => {
  const root = await Deno.makeTempDir({ prefix: "shop-pg-test-" });
  try {
    const owner = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { ProcessGroup } from ${JSON.stringify(new URL("./process_group.ts", import.meta.url).href)};
         const group = await ProcessGroup.create({ root: ${JSON.stringify(root)} });
         const server = await group.start({ name: "server", command: "sleep", args: ["300"] });
         console.log(JSON.stringify({ pid: server.pid, dir: group.dir }));
         setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = owner.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    const { pid, dir } = JSON.parse(value ?? "{}") as { pid: number; dir: string };
    assert.ok(isRunning(pid));

    owner.kill("SIGKILL");
    await owner.status;
    while (!(await reader.read()).done) {
      // Drain the killed owner's output so the stream closes.
    }

    // Within the watchdog's poll: the server must not outlive its killed owner.
    await eventually("the server dies with its killed owner", () => !isRunning(pid), { timeoutMs: 20_000 });
    await eventually("the killed owner's directory is removed", async () => !(await exists(dir)), {
      timeoutMs: 20_000,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ProcessGroup.create() kills and removes what a crashed run left", async () => {
  const root = await Deno.makeTempDir({ prefix: "shop-pg-test-" });
  try {
    // A crashed run as it looks when even its watchdog was killed: an owner file naming a dead process,
    // and a server marked with the run's directory that still runs.
    const stale = `${root}/run-1-stale`;
    await Deno.mkdir(stale);
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    await Deno.writeTextFile(`${stale}/owner`, `${dead.pid} 1\n`);
    const out = await new Deno.Command("sh", {
      args: ["-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!"],
      env: { [RUN_MARKER]: stale },
      stdout: "piped",
    }).output();
    const leftover = Number(new TextDecoder().decode(out.stdout).trim());
    // `$!` is known before the child has become `sleep`; until then its environment may read empty.
    await eventually("the leftover server runs", async () => {
      try {
        return (await Deno.readTextFile(`/proc/${leftover}/cmdline`)).startsWith("sleep\0");
      } catch {
        return false;
      }
    }, { timeoutMs: 20_000 });

    const group = await ProcessGroup.create({ root });
    try {
      assert.equal(isRunning(leftover), false, "the leftover server of the crashed run still runs");
      assert.equal(await exists(stale), false, "the crashed run's directory is still there");
    } finally {
      await group.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ProcessGroup.create() leaves the runs of live owners alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "shop-pg-test-" });
  try {
    const first = await ProcessGroup.create({ root });
    const server = await first.start({ name: "server", command: "sleep", args: ["300"] });
    const second = await ProcessGroup.create({ root });
    assert.ok(isRunning(server.pid));
    assert.ok(await exists(first.dir));
    await second.stop();
    await first.stop();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
