// deno-lint-ignore-file no-console -- a script: its progress lines are its interface
/**
 * What `scripts/test` runs: the shared test servers around one `deno test`.
 *
 * @module
 */
import { RUN_MARKER, startTestServers, type TestServers } from "@shop/platform/testing";

const started = Date.now();
let servers: TestServers;
try {
  servers = await startTestServers();
} catch (error) {
  console.error(
    `test: error: the test servers did not start: ${error instanceof Error ? error.message : error}`,
  );
  Deno.exit(1);
}
const names = servers.started.length > 0
  ? servers.started.join(", ")
  : "nothing (all given in the environment)";
console.error(
  `test: started ${names} in ${((Date.now() - started) / 1000).toFixed(1)}s (logs: ${servers.dir}/logs)`,
);

const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", "--permit-no-files", ...Deno.args],
  // The mark makes the watchdog stop the tests too if this process is killed: they need the servers.
  env: { ...servers.env, [RUN_MARKER]: servers.dir },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

// A Ctrl-C reaches `deno test` from the terminal by itself; a signal sent to this process alone is passed
// on. Either way this process stays to stop the servers once the tests have ended.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, () => {
    try {
      child.kill(signal);
    } catch {
      // The tests have ended already.
    }
  });
}

const status = await child.status;
await servers.stop();
Deno.exit(status.signal === null ? status.code : 128 + signalNumber(status.signal));

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
