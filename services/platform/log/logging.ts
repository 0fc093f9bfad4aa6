import { AsyncLocalStorage } from "node:async_hooks";
import {
  configure,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  type Sink,
  withContext,
} from "@logtape/logtape";
import { type BulkShipper, createBulkShipper, type ShipOptions, type ShipStats } from "./bulk_shipper.ts";
import { activeTraceIds } from "../tracing/tracing.ts";
import { jsonLinesFormatter, type LineIdentity } from "./json_lines.ts";

/** How a process logs. */
export interface LoggingOptions extends LineIdentity {
  /** The lowest level written. */
  level: LogLevel;
  /** Where lines go; standard output when omitted. Tests pass a collecting sink. */
  write?: (line: string) => void;
  /**
   * Also ship every line to a log store's Elasticsearch-compatible bulk endpoint (VictoriaLogs locally),
   * batched and bounded (see {@linkcode createBulkShipper}); lines still go to `write` too. Off when
   * omitted or when `url` is empty.
   */
  ship?: ShipOptions | undefined;
}

let shipper: BulkShipper | undefined;

const encoder = new TextEncoder();

function writeStdout(line: string): void {
  // Synchronous and complete: a line is never half-written or lost when the process exits right after.
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Sets up JSON-lines logging for the whole process (LogTape): every line carries time, level, service,
 * instance and logger, plus the request id of the call being handled (see {@linkcode withRequestId}) and,
 * inside a traced call, its `trace_id` and `span_id`.
 * Call it once, at start-up, before anything logs.
 *
 * @example
 * ```ts
 * await setupLogging({ service: "user", instance: "user-1", level: "info" });
 * serviceLogger("store").info("Migrations applied: {count}", { count: 3 });
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const formatLine = jsonLinesFormatter(options);
  // The sink runs inside the call that logs: the active span, if any, is the line's.
  const format = (record: LogRecord) => {
    const ids = activeTraceIds();
    return formatLine(
      ids === undefined ? record : { ...record, properties: { ...record.properties, ...ids } },
    );
  };
  const write = options.write ?? writeStdout;
  await shipper?.close();
  shipper = options.ship?.url ? createBulkShipper(options.ship) : undefined;
  const ship = shipper;
  const sink: Sink = ship
    ? (record) => {
      const line = format(record);
      write(line);
      ship.push(line);
    }
    : (record) => write(format(record));
  if (ship) {
    ship.onStateChange = (state, detail) => {
      // Written to `write` only: shipping a line about the store being down would only fill the queue.
      const message = state === "down"
        ? `Log store at ${options.ship?.url} is not answering (${detail}); lines queue and drop when full`
        : "Log store answers again; shipping resumed";
      write(format({
        category: ["shop", "log-shipper"],
        level: state === "down" ? "warning" : "info",
        message: [message],
        rawMessage: message,
        timestamp: Date.now(),
        properties: {},
      }));
    };
  }
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

/**
 * What the log shipper has done in this process (undefined when logs are not shipped): the metrics
 * module turns it into `shop_log_lines_dropped_total` and `shop_log_lines_shipped_total`.
 *
 * @example
 * ```ts
 * logShippingStats()?.dropped.queue_full; // lines lost because the store was slow or down
 * ```
 */
export function logShippingStats(): ShipStats | undefined {
  return shipper?.stats;
}

/**
 * Sends the lines still queued for the log store, each POST bounded by its timeout; for the last moments
 * of a process (a `close` shutdown hook). Does nothing when logs are not shipped.
 *
 * @example
 * ```ts
 * import type { RunningServer } from "../server/start_server.ts";
 * declare const server: RunningServer;
 * server.onShutdown("close", flushLogs);
 * ```
 */
export async function flushLogs(): Promise<void> {
  await shipper?.flush();
}
