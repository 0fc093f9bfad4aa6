// deno-lint-ignore-file no-console -- run as a program, what it prints is its interface
/**
 * Times `deno task dev` from its start to a usable stack: Envoy answers a REST call on 8443 and every
 * cluster (user, product, order, payment) has a healthy host in Envoy's admin `/clusters`. Then stops it
 * with SIGINT, as Ctrl-C would, and waits until its ports are free again.
 *
 * It runs only when no dev stack (nor anything else) holds the dev ports: the figure is the start of a
 * stack from nothing but its data directory (`.local/`, warm when it exists: no `initdb`).
 *
 * @module
 */
import { acceptsConnections } from "@shop/platform/testing";
import { ensureDevCertificates } from "@shop/platform/tls";
import { stackMemory } from "./procs.ts";
import { devMemoryTable, type MemoryPart } from "./results.ts";
import { devStackPorts } from "../scripts/lib/dev.ts";
import { clusterHosts } from "../stack/routed.ts";
import { stackServices } from "../stack/services.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The admin socket of the dev stack's Envoy (`scripts/lib/dev.ts`: `.local/envoy`, gateway `envoy`). */
const adminSocket = `${root}/.local/envoy/envoy-admin.sock`;

/** The fixed ports of `deno task dev`. */
export const devPorts = devStackPorts();

/** What {@linkcode timeDevStart} measured. */
export interface DevStart {
  /** Seconds to all healthy, or null when it did not run or did not get there. */
  seconds: number | null;
  note: string;
  /** The memory of every process the dev stack runs, idle (`idleSeconds` after it was healthy). */
  memory?: MemoryPart[];
}

/** How long the dev stack idles before its memory is read. */
const idleSeconds = 10;

async function freeOfDev(): Promise<number | undefined> {
  for (const port of devPorts) if (await acceptsConnections(port)) return port;
  return undefined;
}

async function healthy(client: Deno.HttpClient): Promise<boolean> {
  try {
    // Envoy's admin API is a Unix socket of the dev stack's (its stats port serves no /clusters).
    for (const cluster of stackServices) {
      const hosts = await clusterHosts(adminSocket, cluster);
      if (!hosts.some((host) => host.healthFlags === "healthy")) return false;
    }
    const response = await fetch("https://127.0.0.1:8443/v1/products?pageSize=1", { client });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts `deno task dev` in a session of its own, polls until it is healthy (at most `timeoutMs`), and
 * stops it with SIGINT to its process group (SIGKILL after 60 s).
 *
 * @example
 * ```ts ignore
 * const { seconds, note } = await timeDevStart(`${workDir}/dev.log`);
 * ```
 */
export async function timeDevStart(logFile: string, timeoutMs = 240_000): Promise<DevStart> {
  const busy = await freeOfDev();
  if (busy !== undefined) {
    return { seconds: null, note: `skipped: port ${busy} is in use (a dev stack or another server runs)` };
  }
  const warm = await Deno.stat(`${root}/.local/postgres`).then(() => true, () => false);
  // The certificates `deno task dev` would create on its first start (a fresh clone has none yet).
  const ca = await Deno.readTextFile(`${await ensureDevCertificates(`${root}/certs/dev`)}/ca.crt`);
  const client = Deno.createHttpClient({ caCerts: [ca] });
  // `exec setsid`: the pid is deno task's, leader of a new process group that SIGINT reaches whole.
  // As the README says to run it (`npx -y deno@<pinned> task dev`), so its memory counts npm's wrapper
  // too; with Deno itself where there is no npx.
  const npx = await new Deno.Command("sh", { args: ["-c", "command -v npx"], stdout: "piped" }).output();
  const version = (await Deno.readTextFile(`${root}/.deno-version`)).trim();
  const command = npx.success ? ["npx", "-y", `deno@${version}`] : [Deno.execPath()];
  const child = new Deno.Command("sh", {
    args: ["-c", 'log="$1"; shift; exec setsid "$@" task dev >"$log" 2>&1', "sh", logFile, ...command],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const started = performance.now();
  let seconds: number | null = null;
  let memory: MemoryPart[] | undefined;
  let note = `${npx.success ? "npx -y deno@" + version : "deno"} task dev, ${
    warm ? "warm .local/ data" : "first start: empty .local/"
  }`;
  try {
    const deadline = started + timeoutMs;
    let exited = false;
    child.status.then(() => exited = true);
    while (performance.now() < deadline && !exited) {
      if (await healthy(client)) {
        seconds = (performance.now() - started) / 1000;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (seconds !== null) {
      await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
      memory = stackMemory(child.pid, `${root}/.local`);
    }
    if (seconds === null) {
      note = exited
        ? `deno task dev exited before it was healthy (log: ${logFile})`
        : `not healthy within ${timeoutMs / 1000} s`;
    }
  } finally {
    client.close();
    try {
      Deno.kill(-child.pid, "SIGINT");
    } catch {
      // Already gone.
    }
    const stopDeadline = performance.now() + 60_000;
    while (performance.now() < stopDeadline && await freeOfDev() !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (await freeOfDev() !== undefined) {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone; its watchdog stops what it started.
      }
      note += "; it did not stop within 60 s of SIGINT and was killed";
    }
    await child.status;
  }
  return memory === undefined ? { seconds, note } : { seconds, note, memory };
}

/**
 * `deno run -A bench/dev_start.ts [--json=PATH]`: times one start of `deno task dev` and prints its idle
 * memory per program, without the rest of the bench (which starts a stack of its own first).
 */
async function main(): Promise<number> {
  const json = Deno.args.find((arg) => arg.startsWith("--json="))?.slice("--json=".length);
  const log = await Deno.makeTempFile({ prefix: "shop-dev-start-", suffix: ".log" });
  const result = await timeDevStart(log);
  console.log(
    `deno task dev: ${result.seconds === null ? "-" : `${result.seconds.toFixed(1)} s`} (${result.note})`,
  );
  if (result.memory !== undefined) console.log(devMemoryTable(result.memory));
  if (json !== undefined) await Deno.writeTextFile(json, JSON.stringify(result, null, 2) + "\n");
  return result.memory === undefined ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
