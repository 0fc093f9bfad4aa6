/**
 * Runs a service's `main.ts` as its own process for integration tests, and waits until it serves.
 *
 * @module
 */
import { stopOnStdinEofVariable } from "../server/start_server.ts";
import { TextLineStream } from "../streams/text_line_stream.ts";

/** A running service process. */
export interface ServiceProcess extends AsyncDisposable {
  /** The port it serves on (from its "Serving ... on URL" log line). */
  readonly port: number;
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Every JSON log line it has written so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Everything it has written to stderr so far (a panic, an assertion of a native library). */
  stderr(): string;
  /** Sends a signal (ignored when it has ended). */
  signal(signal: Deno.Signal): void;
  /** Sends SIGKILL if it still runs and waits for it to end. */
  kill(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno run -A <script>` with the given environment and arguments, and waits (up to
 * `timeoutMs`) for the log line that says it serves. `await using` kills it at the end of the scope.
 *
 * @example
 * ```ts ignore
 * await using user = await startServiceProcess(new URL("../../user/main.ts", import.meta.url), {
 *   env: { SHOP_USER_SERVER_PORT: "0" },
 * });
 * ```
 */
export async function startServiceProcess(
  script: URL,
  options: { env?: Record<string, string>; args?: string[]; timeoutMs?: number } = {},
): Promise<ServiceProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script.pathname, ...(options.args ?? [])],
    // The service shuts down when this pipe closes, so it never outlives a runner that was killed.
    env: { ...options.env, NO_COLOR: "1", [stopOnStdinEofVariable]: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += chunk) }),
  ).catch(() => {});
  let ended: Promise<Deno.CommandStatus> | undefined;
  const kill = () => {
    ended ??= (async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await child.stdin.close().catch(() => {});
      return status;
    })();
    return ended;
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script.pathname} did not serve within ${options.timeoutMs ?? 30_000} ms`)),
      options.timeoutMs ?? 30_000,
    );
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
    (async () => {
      for await (const line of lines) {
        if (!line.startsWith("{")) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          // Not a log record (a library's console output): reading must go on, or the pipe fills up
          // and the service blocks on its next log line.
          continue;
        }
        logs.push(entry);
        if (String(entry.message).startsWith("Serving ") && typeof entry.url === "string") {
          clearTimeout(timer);
          resolve(entry.url);
        }
      }
      clearTimeout(timer);
      reject(new Error(`${script.pathname} ended before it served: ${stderr.trim()}`));
    })().catch(reject);
  }).catch(async (error) => {
    await kill();
    throw error;
  });
  return {
    port: Number(new URL(url).port),
    url,
    child,
    logs,
    stderr: () => stderr,
    signal(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    },
    kill,
    async [Symbol.asyncDispose]() {
      await kill();
    },
  };
}
