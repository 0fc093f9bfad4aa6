import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { ErrorInfoSchema, RetryInfoSchema, StatusSchema } from "@shop/proto/google";
import { InFlightLimit, overloadResponse } from "./admission.ts";

function fromBase64(text: string): Uint8Array {
  const padded = text + "=".repeat((4 - text.length % 4) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

Deno.test("InFlightLimit admits up to its limit and one more for each release", () => {
  const limit = new InFlightLimit(3);
  assert.deepEqual([1, 2, 3, 4].map(() => limit.tryAcquire()), [true, true, true, false]);
  assert.equal(limit.running, 3);
  limit.release();
  assert.equal(limit.tryAcquire(), true);
  assert.equal(limit.tryAcquire(), false);
  for (let i = 0; i < 5; i++) limit.release();
  assert.equal(limit.running, 0, "releasing more than was admitted never admits more than the limit");
  assert.deepEqual([1, 2, 3, 4].map(() => limit.tryAcquire()), [true, true, true, false]);
});

Deno.test("InFlightLimit refuses a limit below 1", () => {
  assert.throws(() => new InFlightLimit(0), RangeError);
  assert.throws(() => new InFlightLimit(1.5), RangeError);
});

Deno.test("overloadResponse() answers gRPC trailers-only with RESOURCE_EXHAUSTED, ErrorInfo and RetryInfo", () => {
  const response = overloadResponse("application/grpc+proto", {
    service: "order",
    retryAfterMs: 1250,
    limit: 32,
  });
  assert.equal(response.status, 200);
  assert.equal(response.body.byteLength, 0);
  assert.equal(response.headers["content-type"], "application/grpc+proto");
  assert.equal(response.headers["grpc-status"], "8");
  assert.match(decodeURIComponent(response.headers["grpc-message"] ?? ""), /order is at its limit of 32/);
  const status = fromBinary(StatusSchema, fromBase64(response.headers["grpc-status-details-bin"] ?? ""));
  assert.equal(status.code, 8);
  const [errorInfo, retryInfo] = status.details;
  assert.equal(errorInfo && anyUnpack(errorInfo, ErrorInfoSchema)?.reason, "OVERLOADED");
  const delay = retryInfo && anyUnpack(retryInfo, RetryInfoSchema)?.retryDelay;
  assert.deepEqual([delay?.seconds, delay?.nanos], [1n, 250_000_000]);
});

Deno.test("overloadResponse() answers a Connect unary call with 429 and the Connect JSON error", () => {
  const response = overloadResponse("application/proto", { service: "product", retryAfterMs: 50, limit: 8 });
  assert.equal(response.status, 429);
  assert.equal(response.headers["retry-after"], "1");
  const error = JSON.parse(new TextDecoder().decode(response.body));
  assert.equal(error.code, "resource_exhausted");
  assert.deepEqual(error.details.map((d: { type: string }) => d.type), [
    "google.rpc.ErrorInfo",
    "google.rpc.RetryInfo",
  ]);
  const retry = fromBinary(RetryInfoSchema, fromBase64(error.details[1].value));
  assert.equal(retry.retryDelay?.nanos, 50_000_000);
});

Deno.test("overloadResponse() ends a Connect stream with an end-of-stream message that carries the error", () => {
  const response = overloadResponse("application/connect+json", {
    service: "product",
    retryAfterMs: 50,
    limit: 8,
  });
  assert.equal(response.status, 200);
  assert.equal(response.body[0], 0b10);
  const length = new DataView(response.body.buffer).getUint32(1);
  const end = JSON.parse(new TextDecoder().decode(response.body.subarray(5, 5 + length)));
  assert.equal(end.error.code, "resource_exhausted");
});
