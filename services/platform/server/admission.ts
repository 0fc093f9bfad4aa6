/**
 * Load shedding: a service bounds the calls it works on at once, and refuses the rest at once with
 * RESOURCE_EXHAUSTED and a RetryInfo, before their request is read or decoded, instead of letting them
 * queue until their deadlines. A refused call never started, so any caller may safely try it again later
 * or elsewhere (the kit's discovery transport and the gateway do, within their retry budgets).
 *
 * @module
 */
import type * as http2 from "node:http2";
import { create, type DescService, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ErrorInfoSchema, RetryInfoSchema, StatusSchema } from "@shop/proto/google";
import { Counter } from "prom-client";
import { errorDomain } from "../errors/to_connect_error.ts";
import type { ServiceMetrics } from "../metrics/service_metrics.ts";

/**
 * A bound on the calls in flight: {@linkcode InFlightLimit.tryAcquire} admits a call while fewer than
 * `limit` are running; each admitted call must {@linkcode InFlightLimit.release} once.
 *
 * @example
 * ```ts
 * const limit = new InFlightLimit(2);
 * limit.tryAcquire(); // true
 * limit.tryAcquire(); // true
 * limit.tryAcquire(); // false: answer RESOURCE_EXHAUSTED
 * limit.release();
 * limit.tryAcquire(); // true
 * ```
 */
export class InFlightLimit {
  #running = 0;
  /** The most calls admitted at once. */
  readonly limit: number;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`an in-flight limit must be 1 or more: ${limit}`);
    }
    this.limit = limit;
  }

  /** The calls admitted and not yet released. */
  get running(): number {
    return this.#running;
  }

  /** Admits one more call if there is room. */
  tryAcquire(): boolean {
    if (this.#running >= this.limit) return false;
    this.#running++;
    return true;
  }

  /** Ends an admitted call. */
  release(): void {
    if (this.#running > 0) this.#running--;
  }
}

/** What the refusal says, and after how long it suggests trying again. */
export interface Overload {
  /** The service's name, in the message. */
  service: string;
  /** The RetryInfo delay, in ms. */
  retryAfterMs: number;
  /** The limit that was reached, in ErrorInfo metadata. */
  limit: number;
}

/** A complete HTTP response: status, headers, body. */
export interface OverloadResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The reason in the refusal's `google.rpc.ErrorInfo`. */
export const overloadedReason = "OVERLOADED";

function details(overload: Overload) {
  const seconds = Math.floor(overload.retryAfterMs / 1000);
  return [
    anyPack(
      ErrorInfoSchema,
      create(ErrorInfoSchema, {
        reason: overloadedReason,
        domain: errorDomain,
        metadata: { limit: String(overload.limit) },
      }),
    ),
    anyPack(
      RetryInfoSchema,
      create(RetryInfoSchema, {
        retryDelay: { seconds: BigInt(seconds), nanos: (overload.retryAfterMs % 1000) * 1_000_000 },
      }),
    ),
  ];
}

function base64(bytes: Uint8Array, padded: boolean): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  const encoded = btoa(text);
  return padded ? encoded : encoded.replace(/=+$/, "");
}

/**
 * The refusal of a call in the protocol it came in (by its `content-type`): for gRPC and gRPC-Web a
 * trailers-only response with `grpc-status: 8` and the `google.rpc.Status` (ErrorInfo `OVERLOADED`,
 * RetryInfo) in `grpc-status-details-bin`; for a Connect unary call HTTP 429 with the Connect JSON error;
 * for a Connect stream the end-of-stream message that carries it.
 *
 * @example
 * ```ts
 * const response = overloadResponse("application/grpc", { service: "order", retryAfterMs: 50, limit: 32 });
 * response.headers["grpc-status"]; // "8"
 * ```
 */
export function overloadResponse(contentType: string, overload: Overload): OverloadResponse {
  const message = `${overload.service} is at its limit of ${overload.limit} calls in flight; retry later`;
  const anys = details(overload);
  if (contentType.startsWith("application/grpc")) {
    const status = create(StatusSchema, { code: 8, message, details: anys });
    return {
      status: 200,
      headers: {
        "content-type": contentType,
        "grpc-status": "8",
        "grpc-message": encodeURIComponent(message),
        "grpc-status-details-bin": base64(toBinary(StatusSchema, status), false),
      },
      body: new Uint8Array(0),
    };
  }
  const error = {
    code: "resource_exhausted",
    message,
    details: anys.map((any) => ({
      type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1),
      value: base64(any.value, false),
    })),
  };
  if (contentType.startsWith("application/connect+")) {
    const json = new TextEncoder().encode(JSON.stringify({ error }));
    const envelope = new Uint8Array(5 + json.byteLength);
    // Flag 0b10: the end-of-stream message.
    envelope[0] = 0b10;
    new DataView(envelope.buffer).setUint32(1, json.byteLength);
    envelope.set(json, 5);
    return { status: 200, headers: { "content-type": contentType }, body: envelope };
  }
  return {
    status: 429,
    headers: {
      "content-type": "application/json",
      "retry-after": String(Math.max(1, Math.ceil(overload.retryAfterMs / 1000))),
    },
    body: new TextEncoder().encode(JSON.stringify(error)),
  };
}

/** The calls of a service's own RPCs handled at once unless configured (`server.maxInFlight`). */
export const defaultMaxInFlight = 32;

/** How long a refused caller is told to wait before trying again. */
const overloadRetryAfterMs = 50;

/**
 * The server's admission check, run first for every request: a call of one of `services`' RPCs is
 * admitted while fewer than `maxInFlight` run (and released when its response closes), or answered at
 * once with {@linkcode overloadResponse}, counted in `grpc_server_shed_total`. Anything else (health,
 * reflection, `/metrics`, plain HTTP routes) passes. Returns true when it answered the request itself.
 *
 * @example
 * ```ts ignore
 * const refused = shedBeyond(32, { service: "order", services, metrics });
 * const onRequest = (req, res) => {
 *   if (refused(req, res)) return;
 *   handler(req, res);
 * };
 * ```
 */
export function shedBeyond(
  maxInFlight: number | undefined,
  options: { service: string; services: readonly DescService[]; metrics: ServiceMetrics },
): (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => boolean {
  const admission = new InFlightLimit(maxInFlight ?? defaultMaxInFlight);
  // `/<package.Service>/<Method>` of a service the server registers.
  const bounded = new Set(options.services.map((service) => `/${service.typeName}/`));
  const registry = options.metrics.registry;
  const shed = registry.getSingleMetric("grpc_server_shed_total") as Counter | undefined ?? new Counter({
    name: "grpc_server_shed_total",
    help: "RPCs refused with RESOURCE_EXHAUSTED at once because the service was at its in-flight limit.",
    registers: [registry],
  });
  return (req, res) => {
    const path = req.url ?? "/";
    if (!bounded.has(path.slice(0, path.indexOf("/", 1) + 1))) return false;
    if (admission.tryAcquire()) {
      res.on("close", () => admission.release());
      return false;
    }
    shed.inc();
    const refusal = overloadResponse(String(req.headers["content-type"] ?? ""), {
      service: options.service,
      retryAfterMs: overloadRetryAfterMs,
      limit: admission.limit,
    });
    req.resume();
    if (req.httpVersionMajor === 2 && refusal.body.byteLength === 0) {
      // gRPC's trailers-only form: the status in the one HEADERS frame, which ends the stream.
      res.stream.respond({ ":status": refusal.status, ...refusal.headers }, { endStream: true });
    } else {
      res.writeHead(refusal.status, refusal.headers);
      res.end(refusal.body);
    }
    return true;
  };
}
