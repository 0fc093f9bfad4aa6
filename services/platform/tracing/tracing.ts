/**
 * Distributed tracing for the kit (OpenTelemetry JS): one tracer provider per process, exporting over
 * OTLP/HTTP (JSON) to the trace store, W3C trace context in and out, a parent-based ratio sampler, and
 * the context carried by `AsyncLocalStorage` (through `node:http2` handlers, timers and `fetch`).
 *
 * Off unless {@linkcode setupTracing} was called with an endpoint: spans are then no-ops and cost
 * next to nothing.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";

/** How a process traces. */
export interface TracingOptions {
  /** `service.name` in the store: `order`, `product`, ... */
  service: string;
  /** `service.instance.id`. */
  instance: string;
  /** The store's OTLP/HTTP base URL (`http://127.0.0.1:4318`); empty: no tracing. */
  endpoint: string;
  /** The share of new traces recorded, 0..1; a call that arrives with a trace follows its caller. */
  sampleRatio: number;
}

/** The tracing of a process, to flush at shutdown. */
export interface ProcessTracing {
  /** Sends the spans still buffered. */
  flush(): Promise<void>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

let provider: BasicTracerProvider | undefined;

/**
 * Sets up tracing for the whole process; returns undefined (tracing off) when `endpoint` is empty.
 *
 * @example
 * ```ts
 * const tracing = setupTracing({ service: "order", instance: "order-1", endpoint: "", sampleRatio: 1 });
 * await tracing?.shutdown();
 * ```
 */
export function setupTracing(options: TracingOptions): ProcessTracing | undefined {
  if (options.endpoint === "") return undefined;
  const base = options.endpoint.replace(/\/+$/, "");
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      "service.name": options.service,
      "service.instance.id": options.instance,
    }),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(Math.min(1, Math.max(0, options.sampleRatio))),
    }),
    spanProcessors: [
      // Fewer, larger exports: each is a JSON body to build here and to take in at the store. A second
      // at most between a span's end and its export; a full batch leaves at once.
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }), {
        scheduledDelayMillis: 1_000,
        maxQueueSize: 16_384,
        maxExportBatchSize: 2_048,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const own = provider;
  return {
    flush: () => own.forceFlush(),
    shutdown: () => own.shutdown(),
  };
}

/**
 * Whether this process records spans ({@linkcode setupTracing} was called with an endpoint).
 *
 * @example
 * ```ts
 * tracingEnabled(); // false until setupTracing turns it on
 * ```
 */
export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/**
 * Whether the active context has a span being recorded: work done outside any traced call (a loop's
 * housekeeping, a query of no request) and work of an unsampled trace get no spans of their own, so
 * they cost nothing and start no trace.
 *
 * @example
 * ```ts
 * insideTracedCall(); // false outside inSpan, or while tracing is off
 * ```
 */
export function insideTracedCall(): boolean {
  return trace.getActiveSpan()?.isRecording() ?? false;
}

/**
 * Reads the tracing settings every process shares from its environment: `SHOP_TRACING_ENDPOINT` (the
 * store's OTLP/HTTP base URL, empty or unset: off) and `SHOP_TRACING_SAMPLE_RATIO` (0..1, default 1).
 *
 * @example
 * ```ts
 * tracingEnv({ SHOP_TRACING_ENDPOINT: "http://127.0.0.1:4318" }); // { endpoint: "http://127.0.0.1:4318", sampleRatio: 1 }
 * ```
 */
export function tracingEnv(
  env: Record<string, string | undefined>,
): Pick<TracingOptions, "endpoint" | "sampleRatio"> {
  const endpoint = env.SHOP_TRACING_ENDPOINT ?? "";
  if (endpoint !== "" && !/^https?:\/\/\S+$/.test(endpoint)) {
    throw new Error(`SHOP_TRACING_ENDPOINT must be empty or an http(s):// URL, not ${endpoint}`);
  }
  const ratioText = env.SHOP_TRACING_SAMPLE_RATIO ?? "1";
  const sampleRatio = Number(ratioText);
  if (!Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) {
    throw new Error(`SHOP_TRACING_SAMPLE_RATIO must be a number from 0 to 1, not ${ratioText}`);
  }
  return { endpoint, sampleRatio };
}

/**
 * The shop's tracer (a no-op one while tracing is off).
 *
 * @example
 * ```ts
 * shopTracer().startActiveSpan("work", (span) => span.end());
 * ```
 */
export function shopTracer(): Tracer {
  return trace.getTracer("shop");
}

/** Options of {@linkcode inSpan}. */
export interface InSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent; the active context unless given. */
  parent?: Context;
  /** Start a new trace (a root span), linked to `links` only. */
  root?: boolean;
}

/**
 * Runs `fn` inside a new active span, ends it when `fn` settles, and records an error `fn` throws on it
 * (status ERROR, the exception as an event) before rethrowing.
 *
 * @example
 * ```ts
 * const total = await inSpan("shop.reserve", { attributes: { "shop.order.id": "o-1" } }, () => Promise.resolve(3));
 * ```
 */
export function inSpan<T>(
  name: string,
  options: InSpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return shopTracer().startActiveSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links ? { links: options.links } : {}),
      ...(options.root ? { root: true } : {}),
    },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        recordError(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** A span started by {@linkcode startChildSpan}. */
export interface ChildSpan {
  /** Runs `fn` with the span active. */
  run<T>(fn: () => T): T;
  /** Ends the span, failed with `error` when one is given. */
  end(error?: unknown): void;
}

/**
 * Starts a client span under the active one, for work whose end is seen elsewhere (a callback, a
 * promise of any shape); {@linkcode inSpan} is simpler where a function's promise is the work.
 *
 * @example
 * ```ts
 * const span = startChildSpan("postgres saveOrder", { "db.system": "postgresql" });
 * span.run(() => "work");
 * span.end();
 * ```
 */
export function startChildSpan(name: string, attributes: Attributes): ChildSpan {
  const parent = context.active();
  const span = shopTracer().startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  const active = trace.setSpan(parent, span);
  return {
    run: (fn) => context.with(active, fn),
    end: (error) => {
      if (error !== undefined) recordError(span, error);
      span.end();
    },
  };
}

/**
 * Marks `span` failed with `error`: status ERROR with the error's message, and an `exception` event.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * const span = trace.getActiveSpan();
 * if (span) recordError(span, new Error("card declined"));
 * ```
 */
export function recordError(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.recordException(error instanceof Error ? error : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * The W3C `traceparent` of the active span, to store beside work that may be resumed in another trace
 * (undefined when nothing is traced).
 *
 * @example
 * ```ts
 * currentTraceparent(); // "00-4bf9...-00f0...-01" inside a traced call
 * ```
 */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/**
 * The link to the span a stored `traceparent` names, for work resumed in a new trace; undefined when it
 * is missing or malformed.
 *
 * @example
 * ```ts
 * linkTo("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.context.traceId; // "4bf92f3577b34da6a3ce929d0e0e4736"
 * ```
 */
export function linkTo(traceparent: string | undefined | null): Link | undefined {
  if (!traceparent) return undefined;
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent);
  if (!match) return undefined;
  const [, traceId = "", spanId = "", flags = "00"] = match;
  return { context: { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true } };
}

/**
 * The trace context carried by `headers` (`traceparent`, `tracestate`), as a parent context.
 *
 * @example
 * ```ts
 * const parent = contextFromHeaders(new Headers());
 * ```
 */
export function contextFromHeaders(headers: Headers): Context {
  return propagation.extract(context.active(), headers, {
    get: (carrier, key) => carrier.get(key) ?? undefined,
    keys: (carrier) => [...carrier.keys()],
  });
}

/**
 * Writes the active trace context into `headers` (`traceparent`, `tracestate`).
 *
 * @example
 * ```ts
 * const headers = new Headers();
 * injectTraceContext(headers);
 * ```
 */
export function injectTraceContext(headers: Headers): void {
  propagation.inject(context.active(), headers, { set: (carrier, key, value) => carrier.set(key, value) });
}

/**
 * The trace and span ids of the active span, for log lines (undefined outside a recorded span).
 *
 * @example
 * ```ts
 * activeTraceIds(); // { trace_id: "4bf9...", span_id: "00f0..." } inside a traced call
 * ```
 */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  if ((traceFlags & 1) === 0) return undefined;
  return { trace_id: traceId, span_id: spanId };
}

export { SpanKind };
export type { Span };
