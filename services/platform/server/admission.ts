/**
 * Load shedding: a service bounds the calls it works on at once, and refuses the rest at once with
 * RESOURCE_EXHAUSTED and a RetryInfo, before their request is read or decoded, instead of letting them
 * queue until their deadlines. A refused call never started, so any caller may safely try it again later
 * or elsewhere (the kit's discovery transport and the gateway do, within their retry budgets).
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ErrorInfoSchema, RetryInfoSchema, StatusSchema } from "@shop/proto/google";
import { errorDomain } from "../errors/to_connect_error.ts";

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
