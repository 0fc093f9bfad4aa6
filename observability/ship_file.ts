/**
 * Ships the JSON lines of a file that another program writes (Envoy's access log) to the log store,
 * with the kit's bulk shipper: same batching, bounds and drop counting as the services.
 *
 * Why a tailer: Envoy already writes one JSON object per request (`request_id` included) to its stdout,
 * which the dev stack and the test harness capture to a file. Tailing that file needs no change to
 * Envoy's configuration and no extra Envoy extension; an HTTP or gRPC access-log sink would need an
 * access-log service to receive it, i.e. this same program behind a gRPC server. Lines that are not JSON
 * objects (Envoy's own diagnostics on stderr, mixed into the same file) are skipped.
 *
 * As a program: `deno run -A observability/ship_file.ts --file=.local/run/logs/envoy.log --service=envoy`
 * (env prefix `SHOP_SHIP_FILE`; the store from `SHOP_LOG_SHIP_URL` like every service).
 *
 * @module
 */
import { boolean, type ConfigOf, loadConfigOrExit, string } from "@shop/platform/config";
import {
  type BulkShipper,
  createBulkShipper,
  logConfigSchema,
  maskText,
  type ShipOptions,
} from "@shop/platform/log";

/** What {@linkcode tailToShipper} follows. */
export interface TailOptions {
  /** The file to follow; it may not exist yet, and may be truncated or replaced. */
  file: string;
  /** The `service` of every shipped line (`envoy`). */
  service: string;
  /** The `instance` of every shipped line. */
  instance: string;
  /** Start at the end of the file (only new lines) instead of its beginning; a file that does not exist
   * yet is read from its beginning once it does. */
  fromEnd?: boolean;
  /** How often the file is read, in ms (250 unless set). */
  pollMs?: number;
}

/**
 * Turns one line of the file into the document to ship, or undefined to skip it: JSON objects only,
 * with `service`, `instance`, a `message` (Envoy's lines have none: `METHOD path -> status`) and a `time`.
 *
 * @example
 * ```ts
 * toDocument('{"time":"2026-01-01T00:00:00Z","method":"GET","path":"/v1/products","status":200}', "envoy", "envoy-1");
 * ```
 */
export function toDocument(line: string, service: string, instance: string): string | undefined {
  if (!line.startsWith("{")) return undefined;
  let parsed: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    parsed = value as Record<string, unknown>;
  } catch {
    return undefined;
  }
  // A query string may carry personal data (a search, an e-mail): keep the path only.
  if (typeof parsed.path === "string") parsed.path = parsed.path.split("?")[0] ?? "";
  const message = typeof parsed.message === "string"
    ? parsed.message
    : `${parsed.method ?? "-"} ${parsed.path ?? "-"} -> ${parsed.status ?? "-"}`;
  const document: Record<string, unknown> = {
    time: typeof parsed.time === "string" ? parsed.time : new Date().toISOString(),
    level: "info",
    service,
    instance,
    logger: "access",
    ...parsed,
    message: maskText(message),
  };
  if (typeof document.path === "string") document.path = maskText(document.path);
  return JSON.stringify(document);
}

/**
 * Follows `file` and pushes every JSON line to `shipper` until the signal aborts. Reads what was appended
 * since the last poll; a file that shrank (truncated, replaced) is read again from its start.
 *
 * @example
 * ```ts ignore
 * const controller = new AbortController();
 * const done = tailToShipper(shipper, { file: "envoy.log", service: "envoy", instance: "envoy-1" }, controller.signal);
 * ```
 */
export async function tailToShipper(
  shipper: Pick<BulkShipper, "push">,
  options: TailOptions,
  signal: AbortSignal,
): Promise<void> {
  const decoder = new TextDecoder();
  let offset = -1;
  let partial = "";
  while (!signal.aborted) {
    try {
      const size = (await Deno.stat(options.file)).size;
      if (offset < 0) offset = options.fromEnd ? size : 0;
      if (size < offset) {
        offset = 0;
        partial = "";
      }
      if (size > offset) {
        using file = await Deno.open(options.file, { read: true });
        await file.seek(offset, Deno.SeekMode.Start);
        const buffer = new Uint8Array(Math.min(size - offset, 4 * 1024 * 1024));
        const read = await file.read(buffer);
        if (read !== null && read > 0) {
          offset += read;
          const text = partial + decoder.decode(buffer.subarray(0, read), { stream: true });
          const lines = text.split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) {
            const document = toDocument(line.trim(), options.service, options.instance);
            if (document !== undefined) shipper.push(document);
          }
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // A file that appears later (Envoy not started yet) is new: all of it is to ship.
      if (offset < 0) offset = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
}

/**
 * The program's configuration (env prefix `SHOP_SHIP_FILE`; the store from `SHOP_LOG_SHIP_URL`).
 *
 * @example
 * ```ts ignore
 * const config = loadConfigOrExit(shipFileConfigSchema, { envPrefix: "SHOP_SHIP_FILE", args: Deno.args });
 * ```
 */
export const shipFileConfigSchema = {
  file: string({ minLength: 1 }),
  service: string({ default: "envoy", minLength: 1 }),
  /** Skip what the file holds already (a previous run's lines); only lines appended from now on. */
  fromEnd: boolean({ default: true }),
  log: logConfigSchema(),
};

/** A running {@linkcode shipFile}. */
export interface ShippingFile {
  /** Stops following the file and sends what is queued. */
  close(): Promise<void>;
}

/**
 * Follows the configured file and ships its JSON lines until closed. Throws when no store is set.
 *
 * @example
 * ```ts ignore
 * const shipping = shipFile(loadConfigOrExit(shipFileConfigSchema, { envPrefix: "SHOP_SHIP_FILE" }));
 * await shipping.close();
 * ```
 */
export function shipFile(config: ConfigOf<typeof shipFileConfigSchema>): ShippingFile {
  if (config.log.ship.url === "") throw new Error("set SHOP_LOG_SHIP_URL (the _bulk endpoint)");
  const shipOptions: ShipOptions = { ...config.log.ship };
  const shipper = createBulkShipper(shipOptions);
  const controller = new AbortController();
  const tailing = tailToShipper(shipper, {
    file: config.file,
    service: config.service,
    instance: `${config.service}-${Deno.hostname()}`,
    fromEnd: config.fromEnd,
  }, controller.signal);
  return {
    async close() {
      controller.abort();
      await tailing;
      await shipper.close();
    },
  };
}

if (import.meta.main) {
  const config = loadConfigOrExit(shipFileConfigSchema, { envPrefix: "SHOP_SHIP_FILE", args: Deno.args });
  let shipping: ShippingFile;
  try {
    shipping = shipFile(config);
  } catch (error) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`ship_file: ${error instanceof Error ? error.message : error}\n`),
    );
    Deno.exit(2);
  }
  const stop = async () => {
    await shipping.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
