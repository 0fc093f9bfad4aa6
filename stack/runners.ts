/**
 * How the stack runs its own Deno programs (the services, the Stripe simulator, the edge bridge, the
 * log and target shippers) and tells when each is ready. Two ways, one per use:
 *
 * - {@linkcode groupRunner} (`deno task dev`): every program in the dev process group, in a session of its
 *   own, its output in `<group>/logs/<name>.log`; a server is ready when its fixed port accepts
 *   connections.
 * - {@linkcode childRunner} (tests, benchmarks): a server is a child process whose JSON log lines the
 *   test can read ({@linkcode ServiceProcess}), serving on a port it picks and names in its "Serving ... on
 *   URL" line; it stops when the test process ends. Programs without a port run in the group.
 *
 * @module
 */
import {
  acceptsConnections,
  type ManagedProcess,
  type ProcessGroup,
  type ServiceProcess,
  startServiceProcess,
  waitUntil,
} from "@shop/platform/testing";

const root = new URL("..", import.meta.url);

/** How long a program may take to be ready (type checking on a busy machine included). */
const startTimeoutMs = 60_000;

/** A Deno program of the repository to run. */
export interface ProgramSpec {
  /** Its name in logs and messages: `product-2`, `edge`. */
  readonly name: string;
  /** Its entry point, relative to the repository's root: `services/product/main.ts`. */
  readonly script: string;
  /** Its environment (besides `NO_COLOR=1`). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Variables of this process's environment not to pass on (programs run in the group only; a child
   * server of {@linkcode childRunner} inherits them all).
   */
  readonly unsetEnv?: readonly string[];
}

/** A program that serves on a port: `0` lets it pick one. */
export interface ServerSpec extends ProgramSpec {
  readonly port: number;
}

/** A started server program. */
export interface Served<P> {
  /** The port it serves on. */
  readonly port: number;
  /** Its process, as the runner knows it. */
  readonly process: P;
}

/** Starts the stack's Deno programs; `P` is what it gives for a server's process. */
export interface StackRunner<P> {
  /** The process group of the stack: the servers, Envoy and the programs without a port run in it. */
  readonly group: ProcessGroup;
  /** Starts a server program; resolves once it serves. */
  serve(spec: ServerSpec): Promise<Served<P>>;
  /** Starts a program that serves no port; resolves once `ready()` holds. */
  run(spec: ProgramSpec, ready: () => Promise<boolean>): Promise<void>;
  /** Whether a server program still runs, and its last output: for an error that must say why. */
  describe(process: P): Promise<string>;
}

/** The last `count` lines of `text`, each indented, or "(nothing)". */
function lastLines(text: string, count: number): string {
  const lines = text.trimEnd().split("\n").filter((line) => line !== "").slice(-count);
  return lines.length === 0 ? "  (nothing)" : lines.map((line) => `  ${line.slice(0, 400)}`).join("\n");
}

/**
 * Whether a process of a group still runs, and the last lines of its log file.
 *
 * @example
 * ```ts ignore
 * console.log(await describeManaged(edgeProcess));
 * ```
 */
export async function describeManaged(process: ManagedProcess): Promise<string> {
  const alive = await Deno.stat(`/proc/${process.pid}`).then(() => true, () => false);
  const log = await Deno.readTextFile(process.logFile).catch((error) => `(no log: ${error})`);
  return `${alive ? "running" : "no longer running"}; the last lines of ${process.logFile}:\n${
    lastLines(log, 8)
  }`;
}

async function runInGroup(
  group: ProcessGroup,
  spec: ProgramSpec,
  check: boolean,
  ready: () => Promise<boolean>,
): Promise<ManagedProcess> {
  const process = await group.start({
    name: spec.name,
    command: Deno.execPath(),
    args: ["run", "--allow-all", ...(check ? [] : ["--no-check"]), new URL(spec.script, root).pathname],
    env: { NO_COLOR: "1", ...spec.env },
    ...(spec.unsetEnv === undefined ? {} : { unsetEnv: [...spec.unsetEnv] }),
  });
  await waitUntil(process, ready, startTimeoutMs);
  return process;
}

/**
 * Runs every program in `group` (type checked first, as a person running the stack wants to know), ready
 * once its port accepts connections: for the dev stack, whose ports are fixed.
 *
 * @example
 * ```ts ignore
 * const runner = groupRunner(await ProcessGroup.create({ dir: ".local/run" }));
 * ```
 */
export function groupRunner(group: ProcessGroup): StackRunner<ManagedProcess> {
  return {
    group,
    serve: async (spec) => {
      if (spec.port === 0) throw new Error(`${spec.name}: the group runner needs a fixed port`);
      const process = await runInGroup(group, spec, true, () => acceptsConnections(spec.port));
      return { port: spec.port, process };
    },
    run: async (spec, ready) => void await runInGroup(group, spec, true, ready),
    describe: describeManaged,
  };
}

/**
 * Runs servers as child processes of this one (their log lines readable, their port told by their
 * "Serving" line), and the rest in `group` without type checking (the test run checks once). `onStop`
 * is told how to stop each child.
 *
 * @example
 * ```ts ignore
 * const runner = childRunner(group, (stop) => cleanups.push(stop));
 * ```
 */
export function childRunner(
  group: ProcessGroup,
  onStop: (stop: () => Promise<unknown>) => void,
): StackRunner<ServiceProcess> {
  return {
    group,
    serve: async (spec) => {
      const process = await startServiceProcess(new URL(spec.script, root), {
        env: spec.env,
        timeoutMs: startTimeoutMs,
      }).catch((error) => {
        throw new Error(`${spec.name} did not start: ${error instanceof Error ? error.message : error}`);
      });
      onStop(() => process.kill());
      return { port: process.port, process };
    },
    run: async (spec, ready) => void await runInGroup(group, spec, false, ready),
    describe: async (process) => {
      const ended = await Promise.race([
        process.child.status,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50)),
      ]);
      const state = ended === undefined
        ? "running"
        : `exited (code ${ended.code}${ended.signal === null ? "" : `, ${ended.signal}`})`;
      const records = process.logs.slice(-8).map((entry) => JSON.stringify(entry)).join("\n");
      return `${state}; its last log records:\n${lastLines(records, 8)}\nits stderr:\n${
        lastLines(process.stderr(), 8)
      }`;
    },
  };
}
