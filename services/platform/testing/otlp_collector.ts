/** One span as an OTLP/HTTP JSON export carries it, with its service. */
export interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
  /** 2: ERROR. */
  statusCode: number;
}

/** A fake trace store: takes OTLP/HTTP JSON exports and keeps the spans. */
export interface OtlpCollector extends AsyncDisposable {
  /** The base URL to export to (`SHOP_TRACING_ENDPOINT`). */
  readonly url: string;
  /** Every span received so far. */
  readonly spans: CollectedSpan[];
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};
type OtlpBody = {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: AnyValue }> };
    scopeSpans?: Array<{
      spans?: Array<{
        name: string;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        attributes?: Array<{ key: string; value: AnyValue }>;
        links?: Array<{ traceId: string; spanId: string }>;
        status?: { code?: number };
      }>;
    }>;
  }>;
};

function valueOf(value: AnyValue): unknown {
  return value.stringValue ?? (value.intValue === undefined ? undefined : Number(value.intValue)) ??
    value.boolValue ?? value.doubleValue;
}

/**
 * Starts an OTLP/HTTP (JSON) receiver on a free 127.0.0.1 port, for tests of what a process traces
 * without running the real trace store.
 *
 * @example
 * ```ts ignore
 * await using collector = await startOtlpCollector();
 * // start a service with SHOP_TRACING_ENDPOINT=collector.url, call it, then read collector.spans
 * ```
 */
export function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (request) => {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") {
      return new Response("not found", { status: 404 });
    }
    const body = await request.json() as OtlpBody;
    for (const resource of body.resourceSpans ?? []) {
      const resourceAttributes = Object.fromEntries(
        (resource.resource?.attributes ?? []).map((a) => [a.key, valueOf(a.value)]),
      );
      for (const scope of resource.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          spans.push({
            service: String(resourceAttributes["service.name"] ?? ""),
            name: span.name,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            attributes: Object.fromEntries((span.attributes ?? []).map((a) => [a.key, valueOf(a.value)])),
            links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
            statusCode: span.status?.code ?? 0,
          });
        }
      }
    }
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    spans,
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}
