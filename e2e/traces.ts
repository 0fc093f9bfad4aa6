/**
 * Reading traces back from the stack's trace store (Jaeger's query API), as trees a test can assert on.
 *
 * @module
 */
import { delay } from "@shop/platform/testing";

/** One span as the tests see it. */
export interface TracedSpan {
  readonly spanId: string;
  /** The parent's span id; undefined for a root (or a span whose parent the store never got). */
  readonly parentId: string | undefined;
  readonly name: string;
  /** `service.name`: gateway, order, product, payment, user. */
  readonly service: string;
  readonly tags: Readonly<Record<string, unknown>>;
  /** Span ids this span links to (FOLLOWS_FROM in Jaeger), with their trace ids. */
  readonly links: readonly { traceId: string; spanId: string }[];
  /** Whether the span is marked failed (`error` tag or status ERROR). */
  readonly failed: boolean;
}

/** A trace read back from the store. */
export interface Trace {
  readonly traceId: string;
  readonly spans: readonly TracedSpan[];
}

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  tags?: { key: string; value: unknown }[];
}

interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/**
 * A fresh sampled W3C `traceparent` and its trace id: a test sends it and reads the trace back by id.
 *
 * @example
 * ```ts
 * const { traceparent, traceId } = newTraceparent();
 * ```
 */
export function newTraceparent(): { traceparent: string; traceId: string; spanId: string } {
  const hex = (bytes: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

function toTrace(raw: JaegerTrace): Trace {
  return {
    traceId: raw.traceID,
    spans: raw.spans.map((span) => {
      const tags = Object.fromEntries((span.tags ?? []).map((tag) => [tag.key, tag.value]));
      const refs = span.references ?? [];
      const parent = refs.find((ref) => ref.refType === "CHILD_OF" && ref.traceID === raw.traceID);
      return {
        spanId: span.spanID,
        parentId: parent?.spanID,
        name: span.operationName,
        service: raw.processes[span.processID]?.serviceName ?? "?",
        tags,
        links: refs.filter((ref) => ref !== parent).map((ref) => ({
          traceId: ref.traceID,
          spanId: ref.spanID,
        })),
        failed: tags.error === true || tags["otel.status_code"] === "ERROR",
      };
    }),
  };
}

/**
 * Whether every span's parent is in the trace, but for the one outside it that started the trace (the
 * caller's `traceparent`): each process exports in batches of its own, so a child may be in the store
 * before its parent.
 */
function connected(trace: Trace): boolean {
  const ids = new Set(trace.spans.map((span) => span.spanId));
  const missing = new Set(
    trace.spans.flatMap((span) =>
      span.parentId === undefined || ids.has(span.parentId) ? [] : [span.parentId]
    ),
  );
  return missing.size <= 1;
}

/**
 * Reads a trace by id, waiting (bounded) until `complete` holds for it and every span's parent is in
 * it: spans arrive in batches from every process, some a moment after the response.
 *
 * @example
 * ```ts ignore
 * const trace = await readTrace(stack.traceQueryUrl, traceId, (t) => t.spans.length > 10);
 * ```
 */
export async function readTrace(
  queryUrl: string,
  traceId: string,
  complete: (trace: Trace) => boolean,
  timeoutMs = 30_000,
): Promise<Trace> {
  const deadline = Date.now() + timeoutMs;
  let last: Trace | undefined;
  while (true) {
    const response = await fetch(`${queryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) });
    const body = await response.json() as { data?: JaegerTrace[] };
    const raw = body.data?.[0];
    if (response.ok && raw) {
      last = toTrace(raw);
      if (complete(last) && connected(last)) return last;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `trace ${traceId} not complete after ${timeoutMs} ms; spans seen:\n${
          last ? describeTrace(last) : "none"
        }`,
      );
    }
    await delay(300);
  }
}

/**
 * Finds traces of a service whose spans carry a tag value (Jaeger's trace search).
 *
 * @example
 * ```ts ignore
 * const traces = await findTraces(stack.traceQueryUrl, "order", { "shop.order.id": id });
 * ```
 */
export async function findTraces(
  queryUrl: string,
  service: string,
  tags: Record<string, string>,
): Promise<Trace[]> {
  const params = new URLSearchParams({ service, tags: JSON.stringify(tags), limit: "20", lookback: "1h" });
  const response = await fetch(`${queryUrl}/api/traces?${params}`, { signal: AbortSignal.timeout(5_000) });
  const body = await response.json() as { data?: JaegerTrace[] };
  return (body.data ?? []).map(toTrace);
}

/**
 * The trace as an indented tree, one span a line (`service name`), for failure messages.
 *
 * @example
 * ```ts ignore
 * console.log(describeTrace(trace));
 * ```
 */
export function describeTrace(trace: Trace): string {
  const ids = new Set(trace.spans.map((span) => span.spanId));
  const lines: string[] = [];
  const walk = (parentId: string | undefined, depth: number) => {
    for (
      const span of trace.spans.filter((s) =>
        s.parentId === parentId ||
        (depth === 0 && s.parentId !== undefined && !ids.has(s.parentId) && parentId === undefined)
      )
    ) {
      lines.push(`${"  ".repeat(depth)}${span.service} ${span.name}${span.failed ? " (error)" : ""}`);
      walk(span.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join("\n");
}
