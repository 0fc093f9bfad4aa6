/**
 * The trace viewer's model: Jaeger's query API answers (`/api/traces`, `/api/traces/<id>`) turned into
 * what the page draws, a span tree in depth-first order with each span's start offset and duration in
 * the trace, its tags, events and links. Pure functions, so they are tested without a browser.
 *
 * @module
 */

/** A key/value as Jaeger answers it (a tag, or a field of a log). */
export interface JaegerKeyValue {
  key: string;
  type?: string;
  value: unknown;
}

/** A span as Jaeger's query API answers it (times in microseconds). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  startTime: number;
  duration: number;
  references?: { refType: string; traceID: string; spanID: string }[];
  tags?: JaegerKeyValue[];
  logs?: { timestamp: number; fields: JaegerKeyValue[] }[];
}

/** A trace as Jaeger's query API answers it. */
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** An event of a span (a Jaeger log): its name (`exception`...) and attributes. */
export interface SpanEvent {
  readonly offsetUs: number;
  readonly name: string;
  readonly attributes: readonly (readonly [string, string])[];
}

/** One row of the waterfall. */
export interface ViewSpan {
  readonly spanId: string;
  /** The parent's span id in this trace; undefined for a root. */
  readonly parentId: string | undefined;
  /** How deep in the tree: 0 for a root. */
  readonly depth: number;
  readonly service: string;
  readonly name: string;
  /** Microseconds from the trace's first span's start. */
  readonly startOffsetUs: number;
  readonly durationUs: number;
  /** Marked failed: the `error` tag or status ERROR. */
  readonly failed: boolean;
  readonly tags: readonly (readonly [string, string])[];
  readonly events: readonly SpanEvent[];
  /** Spans of other traces (or this one) this span links to: the trace that started a resumed order. */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

/** A trace as the viewer draws it. */
export interface ViewTrace {
  readonly traceId: string;
  /** The first root's `service name`: what the trace is about. */
  readonly title: string;
  /** Epoch microseconds of the first span's start. */
  readonly startUs: number;
  /** From the first start to the last end, in microseconds. */
  readonly durationUs: number;
  /** Depth-first, children in start order. */
  readonly spans: readonly ViewSpan[];
  /** The services that took part, sorted. */
  readonly services: readonly string[];
  readonly errorCount: number;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function pairs(values: readonly JaegerKeyValue[] | undefined): [string, string][] {
  return (values ?? []).map((kv) => [kv.key, text(kv.value)]);
}

/**
 * The trace's spans as a tree in depth-first order, offsets from its first start.
 *
 * @example
 * ```ts
 * const view = toViewTrace({
 *   traceID: "t1",
 *   processes: { p1: { serviceName: "order" } },
 *   spans: [{ traceID: "t1", spanID: "a", operationName: "CreateOrder", processID: "p1", startTime: 10, duration: 5 }],
 * });
 * view.title; // "order CreateOrder"
 * ```
 */
export function toViewTrace(raw: JaegerTrace): ViewTrace {
  const ids = new Set(raw.spans.map((span) => span.spanID));
  const parentOf = (span: JaegerSpan) =>
    span.references?.find((ref) => ref.refType === "CHILD_OF" && ref.traceID === raw.traceID)?.spanID;
  const startUs = Math.min(...raw.spans.map((span) => span.startTime));
  const endUs = Math.max(...raw.spans.map((span) => span.startTime + span.duration));
  const children = new Map<string | undefined, JaegerSpan[]>();
  for (const span of raw.spans) {
    const parent = parentOf(span);
    // A span whose parent never reached the store is drawn as a root rather than dropped.
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const spans: ViewSpan[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    const level = [...(children.get(parent) ?? [])].sort((a, b) => a.startTime - b.startTime);
    for (const span of level) {
      const tags = pairs(span.tags);
      const tag = (key: string) => tags.find(([k]) => k === key)?.[1];
      const parentId = parentOf(span);
      spans.push({
        spanId: span.spanID,
        parentId: parentId !== undefined && ids.has(parentId) ? parentId : undefined,
        depth,
        service: raw.processes[span.processID]?.serviceName ?? "?",
        name: span.operationName,
        startOffsetUs: span.startTime - startUs,
        durationUs: span.duration,
        failed: tag("error") === "true" || tag("otel.status_code") === "ERROR",
        tags,
        events: (span.logs ?? []).map((log) => {
          const fields = pairs(log.fields);
          return {
            offsetUs: log.timestamp - startUs,
            name: fields.find(([key]) => key === "event")?.[1] ?? "event",
            attributes: fields.filter(([key]) => key !== "event"),
          };
        }),
        links: (span.references ?? [])
          .filter((ref) => !(ref.refType === "CHILD_OF" && ref.traceID === raw.traceID))
          .map((ref) => ({ traceId: ref.traceID, spanId: ref.spanID })),
      });
      walk(span.spanID, depth + 1);
    }
  };
  walk(undefined, 0);
  const first = spans[0];
  return {
    traceId: raw.traceID,
    title: first === undefined ? "(no spans)" : `${first.service} ${first.name}`,
    startUs: spans.length === 0 ? 0 : startUs,
    durationUs: spans.length === 0 ? 0 : endUs - startUs,
    spans,
    services: [...new Set(spans.map((span) => span.service))].sort(),
    errorCount: spans.filter((span) => span.failed).length,
  };
}

/**
 * A duration in words a person reads at a glance: `850µs`, `12.3ms`, `1.24s`.
 *
 * @example
 * ```ts
 * formatDuration(12_345); // "12.3ms"
 * ```
 */
export function formatDuration(us: number): string {
  if (us < 1_000) return `${Math.round(us)}µs`;
  if (us < 1_000_000) return `${(us / 1_000).toFixed(us < 10_000 ? 2 : 1)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

/**
 * The search's tags field (`shop.order.id=42 error=true`, space-separated `key=value`) as the JSON
 * object `/api/traces?tags=` takes; undefined when empty, an Error naming a malformed pair.
 *
 * @example
 * ```ts
 * parseTags("shop.order.id=42"); // { "shop.order.id": "42" }
 * ```
 */
export function parseTags(input: string): Record<string, string> | undefined | Error {
  const parts = input.trim().split(/\s+/).filter((part) => part !== "");
  if (parts.length === 0) return undefined;
  const tags: Record<string, string> = {};
  for (const part of parts) {
    const at = part.indexOf("=");
    if (at <= 0) return new Error(`"${part}" is not key=value`);
    tags[part.slice(0, at)] = part.slice(at + 1);
  }
  return tags;
}

/** What the search form asks for. */
export interface TraceQuery {
  readonly service: string;
  readonly operation: string;
  readonly tags: string;
  readonly lookback: string;
  readonly limit: string;
}

/**
 * The `/api/traces` address of a search (the operation and tags only when given).
 *
 * @example
 * ```ts
 * searchUrl({ service: "order", operation: "", tags: "", lookback: "1h", limit: "20" });
 * // "/api/traces?service=order&lookback=1h&limit=20"
 * ```
 */
export function searchUrl(query: TraceQuery): string | Error {
  const tags = parseTags(query.tags);
  if (tags instanceof Error) return tags;
  const params = new URLSearchParams({ service: query.service });
  if (query.operation !== "") params.set("operation", query.operation);
  if (tags !== undefined) params.set("tags", JSON.stringify(tags));
  params.set("lookback", query.lookback);
  params.set("limit", query.limit);
  return `/api/traces?${params}`;
}
