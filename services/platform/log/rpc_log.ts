import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { requestTimeoutMs } from "../server/deadline.ts";
import { serviceLogger } from "./logging.ts";

/** Calls logged at debug only: health checks arrive every few seconds from the gateway and probes. */
const quietServices = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]);

/**
 * Writes one access-log line per RPC (`shop.rpc` logger): the method, the gRPC code and the time taken,
 * under the call's request id, so the log store can show every service a request touched. Nothing of
 * the request or response body is logged. Health and reflection calls are logged at debug level.
 *
 * @example
 * ```ts
 * const interceptors = [rpcLogInterceptor()];
 * ```
 */
export function rpcLogInterceptor(): Interceptor {
  const log = serviceLogger("rpc");
  return (next) => async (req) => {
    const start = performance.now();
    const deadline = requestTimeoutMs(req.header);
    let code = "OK";
    try {
      return await next(req);
    } catch (error) {
      // UNAVAILABLE, DEADLINE_EXCEEDED...: the spelling of the metrics' grpc_code label.
      code = (Code[ConnectError.from(error).code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2")
        .toUpperCase();
      throw error;
    } finally {
      const fields = {
        rpc: `${req.service.typeName}/${req.method.name}`,
        grpc_code: code,
        duration_ms: Math.round((performance.now() - start) * 10) / 10,
        // The deadline the caller gave (the gateway's route timeout for REST calls), when it gave one.
        ...(deadline === undefined ? {} : { deadline_ms: deadline }),
      };
      const message = "RPC {rpc} answered {grpc_code} in {duration_ms} ms";
      if (quietServices.has(req.service.typeName)) log.debug(message, fields);
      else if (code === "INTERNAL" || code === "UNKNOWN") log.warn(message, fields);
      else log.info(message, fields);
    }
  };
}
