/**
 * A slow store, made by freezing it: SIGSTOP on a server's whole process tree (PostgreSQL's backends
 * too) for a moment, then SIGCONT. Calls in flight wait on a store that neither answers nor closes, the
 * way a store stalled by a checkpoint or a full disk behaves.
 *
 * @module
 */
import { parseStat } from "../bench/procs.ts";

/**
 * Every pid of the tree under `root`, itself included.
 *
 * @example
 * ```ts ignore
 * processTree(postgresPid); // the postmaster and every backend
 * ```
 */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let line: string;
    try {
      line = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue;
    }
    const stat = parseStat(line);
    if (stat === undefined) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat.pid]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function signalAll(pids: readonly number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }
}

/** A store to freeze now and then: its name in the report and the root pid of its processes. */
export interface Store {
  readonly name: string;
  readonly pid: number;
}

/**
 * Until `until`, every `everyMs` freezes the next store in turn for `pauseMs`; always thaws what it froze,
 * also when it is stopped early (`signal`). Returns what it did, for the report.
 *
 * @example
 * ```ts ignore
 * const pauses = await pauseStores([{ name: "ferretdb", pid }], { until, everyMs: 15_000, pauseMs: 2_000 });
 * ```
 */
export async function pauseStores(
  stores: readonly Store[],
  options: { until: number; everyMs: number; pauseMs: number; signal?: AbortSignal },
): Promise<string[]> {
  const done: string[] = [];
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      options.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  let turn = 0;
  await sleep(options.everyMs / 2);
  while (performance.now() + options.pauseMs < options.until && !options.signal?.aborted) {
    const store = stores[turn++ % stores.length];
    if (store === undefined) break;
    const pids = processTree(store.pid);
    const started = performance.now();
    signalAll(pids, "SIGSTOP");
    try {
      await sleep(options.pauseMs);
    } finally {
      signalAll(pids, "SIGCONT");
    }
    done.push(
      `${store.name} (${pids.length} processes) frozen ${Math.round(performance.now() - started)} ms`,
    );
    await sleep(options.everyMs - options.pauseMs);
  }
  return done;
}
