/**
 * CPU and memory of every process of the bench's stack, read from `/proc/<pid>/stat` (CPU ticks, parent)
 * and `/proc/<pid>/status` (VmRSS) while a scenario runs.
 *
 * The stack's processes are found without help from the stack: the service and simulator processes are
 * children of this process; the servers, the edge bridge and Envoy run in sessions of their own, marked
 * by `ProcessGroup` with `SHOP_INFRA_RUN=<group dir>` in their environment, and a group is ours when its
 * `owner` file names this process. A part of the stack counts with all its descendants (PostgreSQL's
 * backends belong to `postgres`).
 *
 * @module
 */
import { RUN_MARKER } from "@shop/platform/testing";
import { type MemoryPart, type ProcessUsage, round } from "./results.ts";

/** A part of the stack to watch: a name and its root pid. */
export interface Watched {
  name: string;
  pid: number;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /**
   * utime + stime, in clock ticks. Not the children's (cutime, cstime): a child's ticks are counted
   * while it is sampled, and would count twice once its parent reaps it.
   */
  ticks: number;
}

/** Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux this runs on. */
const CLK_TCK = 100;

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The fields of a `/proc/<pid>/stat` line that matter here. The command name may hold spaces and
 * parentheses, so the fields are counted after its last `)`.
 *
 * @example
 * ```ts
 * parseStat("42 (deno run) S 7 42 42 0 -1 4194560 1 0 0 0 30 12 1 2 20 0 9 0 100 0 0");
 * // { pid: 42, ppid: 7, ticks: 42 }
 * ```
 */
export function parseStat(line: string): ProcStat | undefined {
  const close = line.lastIndexOf(")");
  if (close === -1) return undefined;
  const pid = Number(line.slice(0, line.indexOf(" ")));
  // After ")": state(3) ppid(4) ... utime(14) stime(15), numbered from 1 like proc(5).
  const fields = line.slice(close + 2).split(" ");
  const at = (n: number) => Number(fields[n - 3] ?? 0);
  return { pid, ppid: at(4), ticks: at(14) + at(15) };
}

/**
 * The proportional set size in KiB from a `/proc/<pid>/smaps_rollup` text (0 when absent): the
 * process's private pages plus its share of the pages it shares (the Deno binary's text, shared by
 * every Deno process, counts once in all), so the sum over processes is what they cost the machine;
 * `Pss_Anon` for its anonymous part alone (heaps and stacks, not code).
 *
 * @example
 * ```ts
 * pssKiB("00400000-7fff [rollup]\nRss:  2000 kB\nPss:  1234 kB\nPss_Anon:  1000 kB\n"); // 1234
 * pssKiB("Pss:  1234 kB\nPss_Anon:  1000 kB\n", "Pss_Anon"); // 1000
 * ```
 */
export function pssKiB(smapsRollup: string, field: "Pss" | "Pss_Anon" = "Pss"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(smapsRollup);
  return match ? Number(match[1]) : 0;
}

/**
 * The resident set size in KiB from a `/proc/<pid>/status` text (0 when absent, e.g. a zombie).
 *
 * @example
 * ```ts
 * rssKiB("Name:\tdeno\nVmRSS:\t  123456 kB\n"); // 123456
 * ```
 */
export function rssKiB(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) : 0;
}

function allStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const line = readText(`/proc/${entry.name}/stat`);
    const stat = line === undefined ? undefined : parseStat(line);
    if (stat !== undefined) stats.set(stat.pid, stat);
  }
  return stats;
}

/** The directory of the `ProcessGroup` that started `pid` (its `SHOP_INFRA_RUN` mark), if any. */
function groupDirOf(pid: number): string | undefined {
  const environ = readText(`/proc/${pid}/environ`) ?? "";
  return environ.split("\0").find((line) => line.startsWith(`${RUN_MARKER}=`))?.slice(RUN_MARKER.length + 1);
}

/** Every pid below `root` (itself included), from a snapshot's parent links. */
function descendants(root: number, stats: Map<number, ProcStat>): number[] {
  const children = new Map<number, number[]>();
  for (const stat of stats.values()) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = stats.has(root) ? [root] : [];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** A readable name for a process of the stack, from its command line. */
export function nameOf(cmdline: string): string | undefined {
  const service = /services\/([a-z_]+)\/main\.ts/.exec(cmdline);
  if (service) return service[1];
  if (cmdline.includes("stripe_simulator/main.ts")) return "stripe-simulator";
  if (cmdline.includes("stack/plumbing.ts")) return "plumbing";
  for (const name of ["envoy", "ferretdb", "stripe-mock", "etcd", "postgres", "jaeger"]) {
    const binary = cmdline.split("\0")[0] ?? "";
    if (binary.endsWith(`/${name}`) || binary === name) return name;
  }
  return undefined;
}

/**
 * The parts of the stack this process started: its children running services and the simulator, and
 * the processes of the process groups it owns. Service instances get a number (`product-1`) in pid
 * order; `names` overrides a name by pid (e.g. from `stack.instances()`).
 *
 * @example
 * ```ts ignore
 * const watched = findStackProcesses(new Map([[1234, "product-2"]]));
 * ```
 */
export function findStackProcesses(names: Map<number, string> = new Map()): Watched[] {
  const stats = allStats();
  const found: Watched[] = [];
  const owners = new Map<string, boolean>();
  const ours = (dir: string): boolean => {
    let mine = owners.get(dir);
    if (mine === undefined) {
      mine = (readText(`${dir}/owner`) ?? "").split(" ")[0] === String(Deno.pid);
      owners.set(dir, mine);
    }
    return mine;
  };
  for (const stat of [...stats.values()].sort((a, b) => a.pid - b.pid)) {
    const cmdline = readText(`/proc/${stat.pid}/cmdline`) ?? "";
    let candidate = stat.ppid === Deno.pid;
    if (!candidate) {
      const dir = groupDirOf(stat.pid);
      candidate = dir !== undefined && ours(dir);
    }
    if (!candidate) continue;
    // Only the root of each part: PostgreSQL's backends carry the marker too, and count under it.
    if (found.some((w) => descendants(w.pid, stats).includes(stat.pid))) continue;
    const name = names.get(stat.pid) ?? nameOf(cmdline);
    if (name !== undefined) found.push({ name, pid: stat.pid });
  }
  // Number repeated services: product-1, product-2.
  const counts = new Map<string, number>();
  for (const w of found) counts.set(w.name, (counts.get(w.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  return found.map((w) => {
    if (names.has(w.pid) || (counts.get(w.name) ?? 0) < 2) return w;
    const n = (seen.get(w.name) ?? 0) + 1;
    seen.set(w.name, n);
    return { name: `${w.name}-${n}`, pid: w.pid };
  });
}

/**
 * Samples the CPU and RSS of watched processes (each with its descendants) until stopped.
 *
 * @example
 * ```ts ignore
 * const sampler = new Sampler(findStackProcesses());
 * // ... run load ...
 * const usage = sampler.stop(); // busiest first
 * ```
 */
export class Sampler {
  #watched: Watched[];
  #baseline = new Map<number, number>();
  #last = new Map<number, { ticks: number; part: string }>();
  #peakKiB = new Map<string, number>();
  #started = performance.now();
  #timer: ReturnType<typeof setInterval>;

  /** Starts sampling every `intervalMs`. */
  constructor(watched: Watched[], intervalMs = 250) {
    this.#watched = watched;
    const stats = allStats();
    for (const w of watched) {
      for (const pid of descendants(w.pid, stats)) this.#baseline.set(pid, stats.get(pid)?.ticks ?? 0);
    }
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const stats = allStats();
    for (const w of this.#watched) {
      let kib = 0;
      for (const pid of descendants(w.pid, stats)) {
        const stat = stats.get(pid);
        if (stat === undefined) continue;
        this.#last.set(pid, { ticks: stat.ticks, part: w.name });
        kib += rssKiB(readText(`/proc/${pid}/status`) ?? "");
      }
      this.#peakKiB.set(w.name, Math.max(this.#peakKiB.get(w.name) ?? 0, kib));
    }
  }

  /** Stops and returns each part's CPU (percent of one core) and peak RSS, busiest first. */
  stop(): ProcessUsage[] {
    this.#sample();
    clearInterval(this.#timer);
    const seconds = (performance.now() - this.#started) / 1000;
    const ticks = new Map<string, number>();
    for (const [pid, { ticks: now, part }] of this.#last) {
      // A process first seen after the start (a new backend) counts all its ticks.
      ticks.set(part, (ticks.get(part) ?? 0) + now - (this.#baseline.get(pid) ?? 0));
    }
    return this.#watched.map((w) => ({
      name: w.name,
      cpuPercent: round(((ticks.get(w.name) ?? 0) / CLK_TCK / seconds) * 100, 0),
      rssMiB: round((this.#peakKiB.get(w.name) ?? 0) / 1024, 0),
    })).sort((a, b) => b.cpuPercent - a.cpuPercent);
  }
}

/**
 * The RSS of each watched part right now, in MiB.
 *
 * @example
 * ```ts ignore
 * const idle = rssNow(findStackProcesses());
 * ```
 */
export function rssNow(watched: Watched[]): ProcessUsage[] {
  const stats = allStats();
  return watched.map((w) => ({
    name: w.name,
    cpuPercent: 0,
    rssMiB: round(
      descendants(w.pid, stats).reduce((sum, pid) => sum + rssKiB(readText(`/proc/${pid}/status`) ?? ""), 0) /
        1024,
      0,
    ),
  }));
}

/**
 * A name for any process of the dev stack: a known part ({@linkcode nameOf}), else a Deno program by its
 * script (`ship_file.ts`), else the program's file name (`victoria-logs`, `bash`).
 *
 * @example
 * ```ts
 * anyNameOf("/usr/bin/deno\0run\0-A\0/repo/observability/ship_file.ts"); // "ship_file.ts"
 * ```
 */
export function anyNameOf(cmdline: string): string {
  const known = nameOf(cmdline);
  if (known !== undefined) return known;
  const argv = cmdline.split("\0").filter((arg) => arg !== "");
  // Servers that retitle themselves (`postgres: checkpointer`, `redis-server 127.0.0.1:6380`) count
  // under their program's name.
  const program = ((argv[0] ?? "?").split("/").pop() ?? "?").split(/[: ]/)[0] || "?";
  // npm names its process `npm exec deno@...` (process.title), or it still shows node running npx.
  if (argv[0]?.startsWith("npm ") || (program === "node" && argv.some((arg) => /\bnp[mx]/.test(arg)))) {
    return "npm exec";
  }
  // A process group's watchdog (`sh -c <loop> watchdog <owner> ...`).
  if (program === "sh" && argv[3] === "watchdog") return "watchdog";
  const script = argv.find((arg) => /\.(ts|js)$/.test(arg));
  if (script !== undefined) return script.split("/").pop() ?? script;
  if (program === "deno" && argv[1] === "task") return `deno task ${argv[2] ?? ""}`.trim();
  return program;
}

/**
 * Whether `pid` belongs to a process group whose directory is under `prefix`: it carries the group's
 * mark; or it works in a directory under `prefix` (Redis retitles itself over its environment, so its
 * mark is gone, but it runs in its data directory); or it is the group's watchdog (`sh -c ... watchdog
 * <owner> <start> <dir>`, which carries no mark so that it does not kill itself).
 */
function ofGroupUnder(pid: number, prefix: string): boolean {
  if (groupDirOf(pid)?.startsWith(prefix)) return true;
  let cwd: string | undefined;
  try {
    cwd = Deno.readLinkSync(`/proc/${pid}/cwd`);
  } catch {
    cwd = undefined;
  }
  if (cwd !== undefined && (cwd === prefix || cwd.startsWith(`${prefix}/`))) return true;
  const argv = (readText(`/proc/${pid}/cmdline`) ?? "").split("\0");
  return argv.includes("watchdog") && argv.some((arg) => arg.startsWith(prefix));
}

/**
 * The memory of a whole stack right now: every process below `root` (the command that runs it) and
 * every process of a process group whose directory is under `groupDirPrefix` (the servers run in
 * sessions of their own; see {@linkcode ofGroupUnder}), each counted once, summed by name, largest PSS
 * first.
 *
 * @example
 * ```ts ignore
 * const parts = stackMemory(devChild.pid, `${repo}/.local`);
 * ```
 */
export function stackMemory(root: number, groupDirPrefix: string): MemoryPart[] {
  const stats = allStats();
  const pids = new Set(descendants(root, stats));
  for (const stat of stats.values()) {
    if (pids.has(stat.pid)) continue;
    if (ofGroupUnder(stat.pid, groupDirPrefix)) {
      for (const pid of descendants(stat.pid, stats)) pids.add(pid);
    }
  }
  const parts = new Map<string, MemoryPart>();
  for (const pid of pids) {
    const name = anyNameOf(readText(`/proc/${pid}/cmdline`) ?? "");
    const part = parts.get(name) ?? { name, processes: 0, pssMiB: 0, pssAnonMiB: 0, rssMiB: 0 };
    part.processes++;
    const rollup = readText(`/proc/${pid}/smaps_rollup`) ?? "";
    part.pssMiB += pssKiB(rollup) / 1024;
    part.pssAnonMiB = (part.pssAnonMiB ?? 0) + pssKiB(rollup, "Pss_Anon") / 1024;
    part.rssMiB += rssKiB(readText(`/proc/${pid}/status`) ?? "") / 1024;
    parts.set(name, part);
  }
  return [...parts.values()]
    .map((part) => ({
      ...part,
      pssMiB: round(part.pssMiB, 1),
      pssAnonMiB: round(part.pssAnonMiB ?? 0, 1),
      rssMiB: round(part.rssMiB, 1),
    }))
    .sort((a, b) => b.pssMiB - a.pssMiB);
}

/**
 * How long the threads of a process waited for a CPU while runnable, in ms, from its creation until
 * stopped (`/proc/<pid>/task/<tid>/schedstat`, second field, sampled so that threads which end on the
 * way still count): the run-queue wait a busy machine adds to every answer, which no timer inside the
 * process sees.
 *
 * @example
 * ```ts ignore
 * const waits = new RunQueueWait(envoyPid);
 * // ... run load ...
 * const waitedMs = waits.stop();
 * ```
 */
export class RunQueueWait {
  #pid: number;
  #baseline = new Map<string, number>();
  #last = new Map<string, number>();
  #timer: ReturnType<typeof setInterval>;

  /** Starts sampling every `intervalMs`. */
  constructor(pid: number, intervalMs = 250) {
    this.#pid = pid;
    this.#baseline = this.#read();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #read(): Map<string, number> {
    const delays = new Map<string, number>();
    try {
      for (const task of Deno.readDirSync(`/proc/${this.#pid}/task`)) {
        const line = readText(`/proc/${this.#pid}/task/${task.name}/schedstat`);
        if (line !== undefined) delays.set(task.name, Number(line.split(" ")[1] ?? 0));
      }
    } catch {
      // The process is gone: the last sample stands.
    }
    return delays;
  }

  #sample(): void {
    for (const [tid, ns] of this.#read()) this.#last.set(tid, ns);
  }

  /** Stops and returns the wait since the start, in ms, over every thread seen. */
  stop(): number {
    this.#sample();
    clearInterval(this.#timer);
    let ns = 0;
    for (const [tid, last] of this.#last) ns += last - (this.#baseline.get(tid) ?? 0);
    return round(ns / 1e6, 0);
  }
}
