import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { isConnectionFailure } from "./connection_failure.ts";
import { toConnectError } from "./to_connect_error.ts";

function coded(message: string, code: string, name = "Error"): Error {
  const error = Object.assign(new Error(message), { code });
  error.name = name;
  return error;
}

Deno.test("a dependency that is away is a connection failure; a bug is not", () => {
  // What the order service saw while its PostgreSQL restarted (the chaos suite).
  assert.ok(isConnectionFailure(coded("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")));
  assert.ok(isConnectionFailure(coded("read ECONNRESET", "ECONNRESET")));
  assert.ok(isConnectionFailure(coded("This socket has been ended by the other party", "EPIPE")));
  assert.ok(isConnectionFailure(coded("the database system is shutting down", "57P03", "PostgresError")));
  assert.ok(isConnectionFailure(coded("terminating connection due to administrator command", "57P01")));
  assert.ok(isConnectionFailure(coded("write CONNECTION_CLOSED 127.0.0.1:5432", "CONNECTION_CLOSED")));
  const mongo = new Error("connection 3 to 127.0.0.1:27017 closed");
  mongo.name = "MongoNetworkError";
  assert.ok(isConnectionFailure(mongo));
  assert.ok(isConnectionFailure(new Deno.errors.ConnectionRefused("refused")));
  assert.ok(isConnectionFailure(new Error("store call failed", { cause: coded("refused", "ECONNREFUSED") })));

  assert.equal(isConnectionFailure(new TypeError("cannot read properties of undefined")), false);
  assert.equal(isConnectionFailure(coded("duplicate key value", "23505", "PostgresError")), false);
  assert.equal(isConnectionFailure("ECONNREFUSED"), false);
});

Deno.test("a connection failure leaves the service as UNAVAILABLE with a retry hint, anything else unknown as INTERNAL", () => {
  const away = toConnectError(coded("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"), "r-1");
  assert.equal(away.code, Code.Unavailable);
  assert.doesNotMatch(away.rawMessage, /127\.0\.0\.1|ECONNREFUSED/, "no internals leave the service");
  assert.ok(away.details.length >= 2, "ErrorInfo and RetryInfo");
  assert.equal(toConnectError(new TypeError("bug"), "r-2").code, Code.Internal);
});
