import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import { contextFromHeaders, injectTraceContext, inSpan, SpanKind } from "./tracing.ts";

/** The call's outcome as `rpc.grpc.status_code` on its span (0, or the error's code). */
async function withStatusCode<T>(span: Span, call: Promise<T>): Promise<T> {
  try {
    const response = await call;
    span.setAttribute("rpc.grpc.status_code", 0);
    return response;
  } catch (error) {
    span.setAttribute("rpc.grpc.status_code", ConnectError.from(error).code);
    throw error;
  }
}

function rpcAttributes(service: string, method: string) {
  return { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method };
}

/**
 * A server span per RPC (`shop.order.v1.OrderService/CreateOrder`, kind SERVER), continuing the trace
 * the caller sent in `traceparent`, with the `rpc.*` attributes and `rpc.grpc.status_code`; a failed call
 * records its error on the span. Everything the handler does (logs, outgoing calls, queries) runs inside
 * it. Health checks (`grpc.health.v1.Health`) get none.
 *
 * @example
 * ```ts
 * const interceptors = [serverTracingInterceptor()];
 * ```
 */
export function serverTracingInterceptor(): Interceptor {
  return (next) => (req) =>
    // The gateway's and the supervisor's health probes, every few seconds: a trace each would be noise.
    req.service.typeName === "grpc.health.v1.Health"
      ? next(req)
      : inSpan(`${req.service.typeName}/${req.method.name}`, {
        kind: SpanKind.SERVER,
        parent: contextFromHeaders(req.header),
        attributes: rpcAttributes(req.service.typeName, req.method.name),
      }, (span) => withStatusCode(span, next(req)));
}

/**
 * A client span per outgoing call (kind CLIENT, `rpc.*` and `server.address`), whose context goes out in
 * `traceparent`, so the callee's server span is its child.
 *
 * @example
 * ```ts
 * const interceptors = [clientTracingInterceptor()];
 * ```
 */
export function clientTracingInterceptor(): Interceptor {
  return (next) => (req) =>
    inSpan(`${req.service.typeName}/${req.method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: { ...rpcAttributes(req.service.typeName, req.method.name), ...serverAddress(req.url) },
    }, (span) => {
      injectTraceContext(req.header);
      return withStatusCode(span, next(req));
    });
}

function serverAddress(url: string): Record<string, string | number> {
  try {
    const parsed = new URL(url);
    return { "server.address": parsed.hostname, "server.port": Number(parsed.port) };
  } catch {
    return {};
  }
}
