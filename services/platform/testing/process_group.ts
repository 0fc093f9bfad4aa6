/**
 * A set of server processes started together and stopped together, that cannot outlive their owner.
 *
 * Every process is started in a session of its own (so a Ctrl-C in the terminal reaches the owner, which
 * then stops the servers in order, instead of killing them half-way) and carries the environment variable
 * `SHOP_INFRA_RUN=<state dir>`. That mark is how leftovers are found: a watchdog process kills every
 * marked process as soon as the owner dies, however it dies (SIGKILL included), and the next group
 * created under the same root kills and removes whatever a dead owner still left.
 *
 * @module
 */

/**
 * The environment variable that marks every process a group starts.
 *
 * @example
 * ```ts ignore
 * Deno.env.get(RUN_MARKER); // the group's directory, inside a process it started
 * ```
 */
export const RUN_MARKER = "SHOP_INFRA_RUN";

/** What to run, for {@linkcode ProcessGroup.start}. */
export interface ProcessSpec {
  /** A short name: the log file is `<dir>/logs/<name>.log`. */
  name: string;
  /** The executable. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Run as this system user (only when the owner is root), e.g. `postgres`, which refuses root. */
  user?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Environment variables of the owner not to pass on (stripe-mock obeys a stray `PORT`, say). */
  unsetEnv?: string[];
  /** The signal that stops it cleanly; SIGTERM when not given. */
  stopSignal?: Deno.Signal;
}

/** A process started by a {@linkcode ProcessGroup}. */
export interface ManagedProcess {
  /** The name it was started under. */
  readonly name: string;
  /** Its pid, which is also its process group and session id. */
  readonly pid: number;
  /** The file its stdout and stderr go to. */
  readonly logFile: string;
  /** The signal that stops it cleanly. */
  readonly stopSignal: Deno.Signal;
}

/** Options of {@linkcode ProcessGroup.create}. */
export interface ProcessGroupOptions {
  /**
   * Use this directory for logs and the owner file instead of a new temporary one. It is kept on stop
   * (the dev stack keeps its logs), and a dead owner's processes marked with it are killed first; while
   * its owner lives, creating a second group on it fails.
   */
  dir?: string;
  /** Where temporary groups are created; `$TMPDIR/shop-test` (or `/tmp/shop-test`) when not given. */
  root?: string;
}

/**
 * Where temporary groups live unless told otherwise.
 *
 * @example
 * ```ts ignore
 * defaultRunRoot(); // "/tmp/shop-test"
 * ```
 */
export function defaultRunRoot(): string {
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/shop-test`;
}

/**
 * Starts processes that are stopped together, and that die with the process that started them.
 *
 * @example Start a server and stop it
 * ```ts ignore
 * import { ProcessGroup } from "@shop/platform/testing";
 *
 * const group = await ProcessGroup.create();
 * const sleeper = await group.start({ name: "sleeper", command: "sleep", args: ["60"] });
 * console.log(sleeper.pid, group.dir);
 * await group.stop();
 * ```
 */
export class ProcessGroup {
  /** The directory that holds `logs/`, the owner file, and (for temporary groups) the servers' data. */
  readonly dir: string;
  readonly #temporary: boolean;
  readonly #processes: ManagedProcess[] = [];
  readonly #specs = new Map<string, ProcessSpec>();
  #stopped = false;

  private constructor(dir: string, temporary: boolean) {
    this.dir = dir;
    this.#temporary = temporary;
  }

  /**
   * Creates a group: cleans what dead owners left, writes the owner file and starts the watchdog.
   *
   * @example A temporary group under /tmp/shop-test
   * ```ts ignore
   * const group = await ProcessGroup.create();
   * ```
   */
  static async create(options: ProcessGroupOptions = {}): Promise<ProcessGroup> {
    let dir: string;
    if (options.dir !== undefined) {
      dir = options.dir;
      if (!(await reclaim(dir, false))) {
        const owner = (await Deno.readTextFile(`${dir}/owner`)).split(" ")[0];
        throw new Error(`Process ${owner} already runs the processes of ${dir}: stop it first`);
      }
      await Deno.mkdir(dir, { recursive: true });
    } else {
      const root = options.root ?? defaultRunRoot();
      await Deno.mkdir(root, { recursive: true });
      await reclaimStale(root);
      dir = await Deno.makeTempDir({ dir: root, prefix: `run-${Deno.pid}-` });
      // Servers that refuse to run as root (PostgreSQL) keep their data below this directory.
      await Deno.chmod(dir, 0o755);
    }
    await Deno.mkdir(`${dir}/logs`, { recursive: true });
    const group = new ProcessGroup(dir, options.dir === undefined);
    await Deno.writeTextFile(`${dir}/owner`, `${Deno.pid} ${startTime(Deno.pid)}\n`);
    await group.#startWatchdog();
    return group;
  }

  /** The processes started so far, in start order. */
  get processes(): readonly ManagedProcess[] {
    return this.#processes;
  }

  /**
   * Starts a process in a session of its own, output to its log file. It returns once the process is
   * started, not once it serves: wait for readiness with {@linkcode waitUntil}.
   *
   * @example
   * ```ts ignore
   * const etcd = await group.start({ name: "etcd", command: "/usr/bin/etcd", args: ["--data-dir", dir] });
   * ```
   */
  async start(spec: ProcessSpec): Promise<ManagedProcess> {
    if (this.#stopped) throw new Error(`Cannot start ${spec.name}: the process group is stopped`);
    const logFile = `${this.dir}/logs/${spec.name}.log`;
    const argv = [spec.command, ...spec.args];
    if (spec.user !== undefined && Deno.uid() === 0) {
      // setpriv execs in place (runuser forks and stays the parent), so the pid is the server's own.
      argv.unshift("setpriv", `--reuid=${spec.user}`, `--regid=${spec.user}`, "--init-groups");
    }
    // sh puts the job in the background and prints its pid; the job is not a process group leader, so
    // setsid makes it one without forking: the printed pid is the server's, and so is its group.
    const env = Deno.env.toObject();
    for (const name of spec.unsetEnv ?? []) delete env[name];
    const out = await new Deno.Command("sh", {
      args: ["-c", 'setsid "$@" </dev/null >>"$SHOP_LOG_FILE" 2>&1 & echo $!', "sh", ...argv],
      env: { ...env, ...spec.env, SHOP_LOG_FILE: logFile, [RUN_MARKER]: this.dir },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const pid = Number(new TextDecoder().decode(out.stdout).trim());
    if (!out.success || !Number.isInteger(pid) || pid <= 0) {
      throw new Error(`Cannot start ${spec.name}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const started = { name: spec.name, pid, logFile, stopSignal: spec.stopSignal ?? "SIGTERM" };
    const earlier = this.#processes.findIndex((process) => process.name === spec.name);
    if (earlier >= 0) this.#processes.splice(earlier, 1, started);
    else this.#processes.push(started);
    this.#specs.set(spec.name, spec);
    return started;
  }

  /**
   * Starts a process of the group again, as it was first started (its log file goes on), in its place
   * in the stop order: for a supervisor whose program exited. Kills what is left of the old one first.
   *
   * @example
   * ```ts ignore
   * const again = await group.restart(sleeper);
   * ```
   */
  async restart(process: ManagedProcess): Promise<ManagedProcess> {
    const spec = this.#specs.get(process.name);
    if (!spec) throw new Error(`Cannot restart ${process.name}: it was not started by this group`);
    signalGroup(process.pid, "SIGKILL");
    return await this.start(spec);
  }

  /**
   * Stops every process, last started first (FerretDB before the PostgreSQL it uses), with its stop
   * signal and then SIGKILL after `graceMs`; then removes a temporary group's directory.
   *
   * @example
   * ```ts ignore
   * await group.stop();
   * ```
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const process of [...this.#processes].reverse()) {
      signalGroup(process.pid, process.stopSignal);
      const deadline = Date.now() + graceMs;
      while (isRunning(process.pid) && Date.now() < deadline) await delay(25);
      signalGroup(process.pid, "SIGKILL");
    }
    killMarked(this.dir);
    await this.#release();
  }

  /**
   * Kills every process at once and removes the directory, synchronously: for an `unload` handler,
   * where nothing asynchronous runs any more.
   *
   * @example
   * ```ts ignore
   * globalThis.addEventListener("unload", () => group.stopNow());
   * ```
   */
  stopNow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const process of this.#processes) signalGroup(process.pid, "SIGKILL");
    killMarked(this.dir);
    try {
      if (this.#temporary) Deno.removeSync(this.dir, { recursive: true });
      else Deno.removeSync(`${this.dir}/owner`);
    } catch {
      // Already gone: the watchdog may have been faster.
    }
  }

  async #release(): Promise<void> {
    // The watchdog takes a missing owner file as the sign that the owner stopped everything itself.
    if (this.#temporary) await removeQuietly(this.dir);
    else await removeQuietly(`${this.dir}/owner`);
  }

  async #startWatchdog(): Promise<void> {
    // A shell loop, so it needs nothing installed and survives the owner; it polls once a second.
    const script = `
      owner=$1 start=$2 dir=$3 marker=$4 remove=$5
      alive() {
        [ -f "$dir/owner" ] || return 1
        s=$(sed 's/.*) //' "/proc/$owner/stat" 2>/dev/null) || return 1
        set -- $s
        [ "$1" != Z ] && [ "\${20}" = "$start" ]
      }
      while alive; do sleep 1; done
      [ -f "$dir/owner" ] || exit 0
      for e in /proc/[0-9]*/environ; do
        p=\${e#/proc/}; p=\${p%/environ}
        if tr '\\0' '\\n' <"$e" 2>/dev/null | grep -qxF "$marker=$dir"; then kill -KILL -"$p" "$p" 2>/dev/null; fi
      done
      if [ "$remove" = 1 ]; then rm -rf "$dir"; else rm -f "$dir/owner"; fi
    `;
    const args = [
      "-c",
      'setsid sh -c "$0" watchdog "$@" </dev/null >/dev/null 2>&1 &',
      script,
      String(Deno.pid),
      startTime(Deno.pid),
      this.dir,
      RUN_MARKER,
      this.#temporary ? "1" : "0",
    ];
    const env = Deno.env.toObject();
    delete env[RUN_MARKER];
    const out = await new Deno.Command("sh", { args, env, clearEnv: true, stdin: "null" }).output();
    if (!out.success) throw new Error("Cannot start the watchdog of the process group");
  }
}

/**
 * Waits until `ready()` says yes, failing early with the log's last lines when the process exits.
 *
 * @example
 * ```ts ignore
 * await waitUntil(etcd, async () => (await fetch(`${url}/health`).then((r) => r.text())).includes("true"));
 * ```
 */
export async function waitUntil(
  process: ManagedProcess,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (!isRunning(process.pid)) {
      throw new Error(`${process.name} exited while starting; its log ends with:\n${await logTail(process)}`);
    }
    try {
      if (await ready()) return;
    } catch {
      // Not ready yet: refused connections and the like.
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${process.name} was not ready after ${timeoutMs} ms; its log ends with:\n${await logTail(process)}`,
      );
    }
    await delay(50);
  }
}

/**
 * Whether a process exists and is not a zombie (a server that died is reparented, and may linger as a
 * zombie when nobody reaps it).
 *
 * @example
 * ```ts ignore
 * isRunning(Deno.pid); // true
 * ```
 */
export function isRunning(pid: number): boolean {
  const stat = readProcFile(pid, "stat");
  if (stat === undefined) return false;
  return processState(stat) !== "Z";
}

/**
 * Kills every process marked with a state directory, then removes the directory (`remove`) or only its
 * owner file, unless the directory's owner is still alive. The dev stack calls it on its own state
 * directory; {@linkcode ProcessGroup.create} calls it on every temporary group of its root.
 *
 * @example
 * ```ts ignore
 * await reclaim(".local/run", false);
 * ```
 */
export async function reclaim(dir: string, remove: boolean): Promise<boolean> {
  let owner: string;
  try {
    owner = await Deno.readTextFile(`${dir}/owner`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    owner = "";
  }
  const [pid, start] = owner.trim().split(" ");
  if (pid !== undefined && start !== undefined && pid !== "" && ownerAlive(Number(pid), start)) return false;
  const killed = killMarked(dir);
  // SIGKILL is delivered at once, but the kernel frees a dead server's ports and files a moment later.
  const deadline = Date.now() + 5_000;
  while (killed.some(isRunning) && Date.now() < deadline) await delay(25);
  if (remove) await removeQuietly(dir);
  else await removeQuietly(`${dir}/owner`);
  return true;
}

/** Tells whether the owner recorded in a state directory still runs. */
function ownerAlive(pid: number, start: string): boolean {
  return isRunning(pid) && startTime(pid) === start;
}

async function reclaimStale(root: string): Promise<void> {
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory && entry.name.startsWith("run-")) await reclaim(`${root}/${entry.name}`, true);
  }
}

/** Kills every process marked with `dir`, and its process group; returns their pids. */
function killMarked(dir: string): number[] {
  const killed: number[] = [];
  const needle = new TextEncoder().encode(`${RUN_MARKER}=${dir}\0`);
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    let environ: Uint8Array;
    try {
      environ = Deno.readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (containsEntry(environ, needle)) {
      signalGroup(pid, "SIGKILL");
      signalPid(pid, "SIGKILL");
      killed.push(pid);
    }
  }
  return killed;
}

function containsEntry(environ: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= environ.length; i++) {
    if (i > 0 && environ[i - 1] !== 0) continue;
    for (let j = 0; j < needle.length; j++) {
      if (environ[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

function signalPid(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Gone already.
  }
}

function readProcFile(pid: number, file: string): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/${file}`);
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after the command name, which may itself hold spaces. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function processState(stat: string): string {
  return statFields(stat)[0] ?? "";
}

/** The start time of a process in clock ticks since boot: with the pid, it names a process uniquely. */
function startTime(pid: number): string {
  const stat = readProcFile(pid, "stat");
  return stat === undefined ? "" : statFields(stat)[19] ?? "";
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function logTail(process: ManagedProcess, lines = 20): Promise<string> {
  try {
    const text = await Deno.readTextFile(process.logFile);
    return text.trimEnd().split("\n").slice(-lines).map((line) => `  ${line}`).join("\n");
  } catch {
    return "  (no log)";
  }
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts ignore
 * await delay(100);
 * ```
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
