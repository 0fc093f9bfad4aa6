/**
 * Child processes for the process tests, each disposed with `await using` so it is stopped even when
 * an assertion throws.
 *
 * @module
 */

/** A child process whose stdout is read line by line. */
export interface LineProcess extends AsyncDisposable {
  readonly pid: number;
  /** The next stdout line; rejects when none comes within `timeoutMs` or the process ends first. */
  nextLine(timeoutMs?: number): Promise<string>;
  /** Sends a signal, ignoring a process that is already gone. */
  kill(signal?: Deno.Signal): void;
  /** Resolves with the exit status once the process is gone. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Everything the process wrote on stderr so far, for failure messages. */
  stderr(): string;
}

/** A started test server: its port and the process behind it. */
export interface ServerProcess extends LineProcess {
  readonly port: number;
}

const HERE = new URL(".", import.meta.url);

/**
 * Spawns a command with stdin held open (a server started from `testdata/` exits when it closes, so it
 * cannot outlive a test runner that was killed) and stdout readable line by line.
 *
 * @example
 * ```ts
 * await using child = spawnLines("node", ["client.cjs"]);
 * const first = await child.nextLine();
 * ```
 */
export function spawnLines(command: string, args: string[], options: { cwd?: URL } = {}): LineProcess {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? HERE,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines()).getReader();
  let errors = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errors += chunk) }),
  );
  const status = child.status;
  let disposed = false;

  function kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      child.kill(signal);
    } catch {
      // Already exited: nothing to stop.
    }
  }

  return {
    pid: child.pid,
    status,
    stderr: () => errors,
    kill,
    async nextLine(timeoutMs = 10_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`No line from ${command} within ${timeoutMs} ms; stderr:\n${errors}`)),
          timeoutMs,
        );
      });
      try {
        const { value, done } = await Promise.race([lines.read(), timeout]);
        if (done || value === undefined) throw new Error(`${command} ended its output; stderr:\n${errors}`);
        return value;
      } finally {
        clearTimeout(timer);
      }
    },
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      await child.stdin.close().catch(() => {});
      kill("SIGTERM");
      const killer = setTimeout(() => kill("SIGKILL"), 3_000);
      try {
        await status;
      } finally {
        clearTimeout(killer);
      }
      await lines.cancel().catch(() => {});
      await stderrDone.catch(() => {});
    },
  };
}

/**
 * Starts `testdata/server.ts` in its own Deno process and waits until it listens.
 *
 * @example
 * ```ts
 * await using server = await startTestServer();
 * const address = `127.0.0.1:${server.port}`;
 * ```
 */
export async function startTestServer(): Promise<ServerProcess> {
  const child = spawnLines(Deno.execPath(), ["run", "--allow-all", "testdata/server.ts"]);
  try {
    const { port } = JSON.parse(await child.nextLine(30_000)) as { port: number };
    return Object.assign(child, { port });
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * Runs a command to its end and returns its exit code and output; it is killed after `timeoutMs`.
 *
 * @example
 * ```ts
 * const { code, stdout } = await run("grpcurl", ["-plaintext", "127.0.0.1:8080", "list"]);
 * ```
 */
export async function run(
  command: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(command, {
    args,
    cwd: HERE,
    stdin: "null",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) controller.enqueue(line);
    },
    flush(controller) {
      if (rest !== "") controller.enqueue(rest);
    },
  });
}
