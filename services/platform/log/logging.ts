import { AsyncLocalStorage } from "node:async_hooks";
import { configure, getLogger, type Logger, type LogLevel, type Sink, withContext } from "@logtape/logtape";
import { jsonLinesFormatter, type LineIdentity } from "./json_lines.ts";

/** How a process logs. */
export interface LoggingOptions extends LineIdentity {
  /** The lowest level written. */
  level: LogLevel;
  /** Where lines go; standard output when omitted. Tests pass a collecting sink. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function writeStdout(line: string): void {
  // Synchronous and complete: a line is never half-written or lost when the process exits right after.
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Sets up JSON-lines logging for the whole process (LogTape): every line carries time, level, service,
 * instance and logger, plus the request id of the call being handled (see {@linkcode withRequestId}).
 * Call it once, at start-up, before anything logs.
 *
 * @example
 * ```ts
 * await setupLogging({ service: "user", instance: "user-1", level: "info" });
 * serviceLogger("store").info("Migrations applied: {count}", { count: 3 });
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const format = jsonLinesFormatter(options);
  const write = options.write ?? writeStdout;
  const sink: Sink = (record) => write(format(record));
  await configure({
    reset: true,
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { out: sink },
    loggers: [
      { category: ["shop"], lowestLevel: options.level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/**
 * A logger under the shop's category: `serviceLogger("store")` logs as `shop.store`.
 *
 * @example
 * ```ts
 * const log = serviceLogger("saga");
 * log.warn("Charge failed for order {orderId}", { orderId: "o-1" });
 * ```
 */
export function serviceLogger(...category: string[]): Logger {
  return getLogger(["shop", ...category]);
}

const requestIds = new AsyncLocalStorage<string>();

/**
 * Runs `fn` with a request id that every log line written inside it carries (as `request_id`) and that
 * outgoing calls pass on (see {@linkcode currentRequestId}).
 *
 * @example
 * ```ts
 * await withRequestId("req-42", async () => serviceLogger("api").info("Handling"));
 * ```
 */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return requestIds.run(requestId, () => withContext({ request_id: requestId }, fn));
}

/**
 * The request id of the call being handled, if any.
 *
 * @example
 * ```ts
 * withRequestId("req-42", () => currentRequestId()); // "req-42"
 * ```
 */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
