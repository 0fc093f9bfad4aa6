import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { contextFromHeaders, injectTraceContext, inSpan, SpanKind } from "./tracing.ts";

function rpcAttributes(service: string, method: string) {
  return { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method };
}

/**
 * A server span per RPC (`shop.order.v1.OrderService/CreateOrder`, kind SERVER), continuing the trace
 * the caller sent in `traceparent`, with the `rpc.*` attributes and `rpc.grpc.status_code`; a failed call
 * records its error on the span. Everything the handler does (logs, outgoing calls, queries) runs inside
 * it.
 *
 * @example
 * ```ts
 * const interceptors = [serverTracingInterceptor()];
 * ```
 */
export function serverTracingInterceptor(): Interceptor {
  return (next) => (req) =>
    inSpan(`${req.service.typeName}/${req.method.name}`, {
      kind: SpanKind.SERVER,
      parent: contextFromHeaders(req.header),
      attributes: rpcAttributes(req.service.typeName, req.method.name),
    }, async (span) => {
      try {
        const response = await next(req);
        span.setAttribute("rpc.grpc.status_code", 0);
        return response;
      } catch (error) {
        span.setAttribute("rpc.grpc.status_code", ConnectError.from(error).code);
        throw error;
      }
    });
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
    }, async (span) => {
      injectTraceContext(req.header);
      try {
        const response = await next(req);
        span.setAttribute("rpc.grpc.status_code", 0);
        return response;
      } catch (error) {
        span.setAttribute("rpc.grpc.status_code", ConnectError.from(error).code);
        throw error;
      }
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
