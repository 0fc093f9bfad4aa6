import assert from "node:assert/strict";
import { requestTimeoutMs } from "./deadline.ts";

Deno.test("requestTimeoutMs() reads gRPC's and Connect's deadline headers", () => {
  assert.equal(requestTimeoutMs(new Headers({ "grpc-timeout": "15000m" })), 15_000);
  assert.equal(requestTimeoutMs(new Headers({ "grpc-timeout": "2S" })), 2_000);
  assert.equal(requestTimeoutMs(new Headers({ "grpc-timeout": "1H" })), 3_600_000);
  assert.equal(requestTimeoutMs(new Headers({ "connect-timeout-ms": "1500" })), 1_500);
  assert.equal(requestTimeoutMs(new Headers({ "grpc-timeout": "soon" })), undefined);
  assert.equal(requestTimeoutMs(new Headers()), undefined);
});
