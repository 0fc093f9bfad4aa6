import type { DescMessage } from "@bufbuild/protobuf";
import { Code, type Interceptor } from "@connectrpc/connect";
import { DomainError, invalidArgument } from "../errors/domain_error.ts";
import { isConnectionFailure } from "../errors/connection_failure.ts";
import { toConnectError } from "../errors/to_connect_error.ts";
import { currentRequestId, serviceLogger, withRequestId } from "../log/logging.ts";
import { validateRequest } from "../validation/validate_request.ts";

/** The header that carries a request's id across the gateway and every service it touches. */
export const requestIdHeader = "x-request-id";

const validRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Runs each call under its request id: the one Envoy set in `x-request-id`, or a new UUID when there is
 * none (or it is malformed). Log lines and outgoing calls made while handling it carry the same id, and
 * the response echoes it.
 *
 * @example
 * ```ts
 * const interceptors = [requestIdInterceptor()];
 * ```
 */
export function requestIdInterceptor(): Interceptor {
  return (next) => async (req) => {
    const given = req.header.get(requestIdHeader);
    const requestId = given && validRequestId.test(given) ? given : crypto.randomUUID();
    const response = await withRequestId(requestId, () => next(req));
    response.header.set(requestIdHeader, requestId);
    return response;
  };
}

/**
 * Turns every error a handler throws into a gRPC error through the kit's one mapping
 * ({@linkcode toConnectError}). Unexpected errors are logged with their cause under the request id and
 * leave the service as INTERNAL with no internals.
 *
 * @example
 * ```ts
 * const interceptors = [errorInterceptor()];
 * ```
 */
export function errorInterceptor(): Interceptor {
  const log = serviceLogger("rpc");
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      const mapped = toConnectError(error, currentRequestId());
      const rpc = `${req.service.typeName}/${req.method.name}`;
      if (mapped.code === Code.Internal || mapped.code === Code.Unknown) {
        log.error("RPC {rpc} failed: {error}", { rpc, error: mapped.cause ?? error });
      } else if (isConnectionFailure(error)) {
        log.warning("RPC {rpc} answered UNAVAILABLE, a dependency is away: {error}", { rpc, error });
      } else {
        log.debug("RPC {rpc} refused with {code}: {reason}", {
          rpc,
          code: Code[mapped.code],
          reason: mapped.rawMessage,
        });
      }
      throw mapped;
    }
  };
}

/**
 * Checks every unary and server-streaming request against the protovalidate rules of its proto; a
 * request that breaks one is refused with INVALID_ARGUMENT and a `google.rpc.BadRequest` naming each
 * field, before any handler runs.
 *
 * @example
 * ```ts
 * const interceptors = [validationInterceptor()];
 * ```
 */
export function validationInterceptor(): Interceptor {
  return (next) => (req) => {
    if (!req.stream) {
      const result = validateRequest(req.method.input as DescMessage, req.message);
      if (!result.ok) {
        throw invalidArgument(result.violations.map(({ field, description }) => ({ field, description })));
      }
    }
    return next(req);
  };
}

/**
 * Refuses new calls once the server is shutting down, so a call that slips in on a connection that has
 * not yet seen GOAWAY is told to go elsewhere (UNAVAILABLE is safe to retry) instead of being cut off.
 *
 * @example
 * ```ts
 * let draining = false;
 * const interceptors = [drainInterceptor(() => draining)];
 * ```
 */
export function drainInterceptor(isDraining: () => boolean): Interceptor {
  return (next) => (req) => {
    if (isDraining()) {
      throw new DomainError(
        "unavailable",
        "SHUTTING_DOWN",
        "server is shutting down; retry on another instance",
      );
    }
    return next(req);
  };
}
