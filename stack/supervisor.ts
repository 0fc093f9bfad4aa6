/**
 * Keeps the dev stack running when one of its programs exits: it is started again after a pause that
 * doubles with each quick exit (1 s up to 30 s, back to 1 s once a run lasted a minute), with a line
 * saying why and how often, so one service that crashes is a blip for the others instead of the end of
 * the whole stack. Compose (`restart:`) and Kubernetes restart through their own policies.
 *
 * @module
 */
import { isRunning, type ManagedProcess, type ProcessGroup } from "@shop/platform/testing";

/** What the supervisor tells about a program it restarts. */
export interface Restart {
  name: string;
  /** How many times it was restarted so far, this one included. */
  count: number;
  /** The pause before this start, in ms. */
  delayMs: number;
  /** The last lines of its log before it exited. */
  logTail: string;
}

/** Options of {@linkcode superviseGroup}. */
export interface SupervisorOptions {
  /** Told of every restart, before the pause (a log line and the status file, in dev). */
  onRestart?: (restart: Restart) => void;
  /** The first pause (1000 ms); it doubles after each exit that follows a short run. */
  baseDelayMs?: number;
  /** The longest pause (30 000 ms). */
  maxDelayMs?: number;
  /** A run at least this long counts as healthy: the next pause starts from the first one again (60 s). */
  healthyRunMs?: number;
  /** How often exits are looked for (500 ms). */
  pollMs?: number;
}

/** A running supervisor. */
export interface Supervisor {
  /** Restarts so far, by program name. */
  restarts(): ReadonlyMap<string, number>;
  /** Stops supervising (before the group is stopped, so nothing is restarted while it stops). */
  stop(): Promise<void>;
}

/**
 * Watches every process of `group` and restarts the ones that exit, with backoff.
 *
 * @example
 * ```ts ignore
 * const supervisor = superviseGroup(group, { onRestart: (r) => console.log(`${r.name} restarted`) });
 * await supervisor.stop();
 * await group.stop();
 * ```
 */
export function superviseGroup(group: ProcessGroup, options: SupervisorOptions = {}): Supervisor {
  const base = options.baseDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 30_000;
  const healthyRunMs = options.healthyRunMs ?? 60_000;
  const counts = new Map<string, number>();
  const delays = new Map<string, number>();
  const startedAt = new Map<string, number>(group.processes.map((process) => [process.name, Date.now()]));
  let stopped = false;
  const timers = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void }>();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      timers.add(entry);
    });
  // Each program that exits is restarted on its own, so one long pause does not hold up the others.
  const restarting = new Map<string, Promise<void>>();

  async function restart(process: ManagedProcess): Promise<void> {
    const ranMs = Date.now() - (startedAt.get(process.name) ?? 0);
    const previous = delays.get(process.name);
    const delayMs = previous === undefined || ranMs >= healthyRunMs ? base : Math.min(previous * 2, max);
    delays.set(process.name, delayMs);
    const count = (counts.get(process.name) ?? 0) + 1;
    counts.set(process.name, count);
    options.onRestart?.({ name: process.name, count, delayMs, logTail: await logTail(process) });
    await pause(delayMs);
    if (stopped) return;
    await group.restart(process);
    startedAt.set(process.name, Date.now());
  }

  const loop = (async () => {
    while (!stopped) {
      for (const process of group.processes) {
        if (stopped || restarting.has(process.name) || isRunning(process.pid)) continue;
        const task = restart(process)
          .catch(() => {/* left dead: the next round tries again */})
          .finally(() => restarting.delete(process.name));
        restarting.set(process.name, task);
      }
      if (!stopped) await pause(options.pollMs ?? 500);
    }
  })();

  return {
    restarts: () => new Map(counts),
    async stop() {
      stopped = true;
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      timers.clear();
      await loop;
      await Promise.all(restarting.values());
    },
  };
}

async function logTail(process: ManagedProcess): Promise<string> {
  const log = await Deno.readTextFile(process.logFile).catch(() => "");
  return log.trimEnd().split("\n").slice(-10).map((line) => `    ${line}`).join("\n");
}
