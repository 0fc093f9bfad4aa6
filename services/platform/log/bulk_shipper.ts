/**
 * Ships log lines to a log store through the Elasticsearch bulk API (`POST <url>` with NDJSON `create`
 * actions). VictoriaLogs accepts the same requests at `/insert/elasticsearch/_bulk`, so one shipper
 * serves the local store and an Elasticsearch-compatible one in production.
 *
 * The shipper must never hurt the service it runs in: `push` only appends to a bounded in-memory queue
 * (a full queue drops the line and counts it), sending happens in the background, one POST at a time,
 * each with a timeout, and a store that is slow or down only makes the queue fill up and lines drop.
 *
 * @module
 */

/** How lines are shipped. */
export interface ShipOptions {
  /** The bulk endpoint, e.g. `http://127.0.0.1:9428/insert/elasticsearch/_bulk`. */
  url: string;
  /** Lines held in memory at most; a line pushed onto a full queue is dropped (10,000 unless set). */
  maxQueue?: number;
  /** Lines per POST at most (500 unless set). */
  batchSize?: number;
  /** How often the queue is sent, in ms (1 s unless set); a full batch is sent at once. */
  flushInterval?: number;
  /** How long one POST may take before it is abandoned, in ms (2 s unless set). */
  timeout?: number;
  /** The `_index` of each document, for Elasticsearch (`shop-logs` unless set). */
  index?: string;
  /** Extra request headers (an `Authorization` for a managed store). */
  headers?: Readonly<Record<string, string>>;
}

/** Why lines were dropped. */
export type DropReason = "queue_full" | "rejected";

/** What a shipper has done so far, for metrics. */
export interface ShipStats {
  /** Lines the store accepted. */
  shipped: number;
  /** Lines lost, by reason: the queue was full (store slow or down), or the store refused them. */
  dropped: Record<DropReason, number>;
  /** POSTs that failed (timeout, network error, 5xx, 429); their lines stay queued for the next try. */
  failedRequests: number;
  /** Lines waiting now. */
  queued: number;
}

/** A running shipper. */
export interface BulkShipper {
  /** Queues one JSON line (without its newline, or with: it is trimmed); never blocks, never throws. */
  push(line: string): void;
  /** Sends what is queued now (bounded by the timeout of each POST); resolves when done or given up. */
  flush(): Promise<void>;
  /** Stops the timer after a last flush. */
  close(): Promise<void>;
  /** Counters so far. */
  readonly stats: ShipStats;
  /** Called when the store stops or starts answering, for one log line each way (not per failure). */
  onStateChange?: (state: "up" | "down", detail: string) => void;
}

const encoder = new TextEncoder();

/**
 * Starts a shipper: a periodic flush (an unref'd timer, so it never keeps a process alive) and a queue.
 * A POST that fails for a reason that may pass (timeout, network error, 5xx, 429) keeps its lines at the
 * head of the queue and waits for the next tick, backing off up to 30 s; a 4xx other than 429 drops the
 * batch (counted as `rejected`), so one bad line cannot block shipping for ever.
 *
 * @example
 * ```ts
 * const shipper = createBulkShipper({ url: "http://127.0.0.1:9428/insert/elasticsearch/_bulk" });
 * shipper.push(JSON.stringify({ time: new Date().toISOString(), message: "hello", service: "demo" }));
 * await shipper.close();
 * ```
 */
export function createBulkShipper(options: ShipOptions): BulkShipper {
  const maxQueue = options.maxQueue ?? 10_000;
  const batchSize = options.batchSize ?? 500;
  const interval = options.flushInterval ?? 1_000;
  const timeout = options.timeout ?? 2_000;
  const action = `${JSON.stringify({ create: { _index: options.index ?? "shop-logs" } })}\n`;
  const headers = {
    "content-type": "application/x-ndjson",
    // VictoriaLogs' names for the message, time and stream fields; Elasticsearch ignores them.
    "vl-msg-field": "message",
    "vl-time-field": "time",
    "vl-stream-fields": "service,instance",
    ...options.headers,
  };
  const queue: string[] = [];
  const stats: ShipStats = {
    shipped: 0,
    dropped: { queue_full: 0, rejected: 0 },
    failedRequests: 0,
    queued: 0,
  };
  let sending: Promise<void> | undefined;
  let backoffUntil = 0;
  let backoff = interval;
  let down = false;
  let closed = false;

  const shipper: BulkShipper = {
    stats,
    push(line) {
      if (closed) return;
      if (queue.length >= maxQueue) {
        stats.dropped.queue_full++;
        return;
      }
      queue.push(line.trimEnd());
      stats.queued = queue.length;
      if (queue.length >= batchSize && Date.now() >= backoffUntil) void send();
    },
    async flush() {
      await sending;
      while (queue.length > 0) {
        const failures = stats.failedRequests;
        await send();
        if (stats.failedRequests > failures) break;
      }
    },
    async close() {
      clearInterval(timer);
      await shipper.flush();
      closed = true;
    },
  };

  function setState(isDown: boolean, detail: string) {
    if (isDown === down) return;
    down = isDown;
    shipper.onStateChange?.(isDown ? "down" : "up", detail);
  }

  function send(): Promise<void> {
    sending ??= sendBatch().finally(() => sending = undefined);
    return sending;
  }

  async function sendBatch(): Promise<void> {
    if (queue.length === 0) return;
    const batch = queue.slice(0, batchSize);
    const body = encoder.encode(batch.map((line) => `${action}${line}\n`).join(""));
    let failure: string | undefined;
    try {
      const response = await fetch(options.url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(timeout),
      });
      const text = await response.text();
      if (response.ok) {
        queue.splice(0, batch.length);
        const rejected = rejectedItems(text);
        stats.dropped.rejected += rejected;
        stats.shipped += batch.length - rejected;
      } else if (response.status === 429 || response.status >= 500) {
        failure = `HTTP ${response.status}`;
      } else {
        queue.splice(0, batch.length);
        stats.dropped.rejected += batch.length;
      }
    } catch (error) {
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    stats.queued = queue.length;
    if (failure === undefined) {
      backoff = interval;
      backoffUntil = 0;
      setState(false, "");
    } else {
      stats.failedRequests++;
      backoffUntil = Date.now() + backoff;
      backoff = Math.min(backoff * 2, 30_000);
      setState(true, failure);
    }
  }

  const timer = setInterval(() => {
    if (Date.now() >= backoffUntil && queue.length > 0) void send();
  }, interval);
  Deno.unrefTimer(timer);
  return shipper;
}

/** The items of a bulk response that failed (`errors: true`), 0 when it cannot tell. */
function rejectedItems(text: string): number {
  if (!text.includes('"errors":true')) return 0;
  try {
    const parsed = JSON.parse(text) as { items?: Array<Record<string, { status?: number }>> };
    return (parsed.items ?? []).filter((item) =>
      Object.values(item).some((result) => (result.status ?? 200) >= 300)
    ).length;
  } catch {
    return 0;
  }
}
