import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { failure } from "./failure.ts";

Deno.test("failure() returns the error of a failed call as a ConnectError", async () => {
  const error = await failure(Promise.reject(new ConnectError("no such user", Code.NotFound)));
  assert.equal(error.code, Code.NotFound);
  assert.equal(error.rawMessage, "no such user");
  assert.equal((await failure(Promise.reject(new TypeError("boom")))).code, Code.Unknown);
});

Deno.test("failure() throws when the call succeeds", async () => {
  await assert.rejects(failure(Promise.resolve("fine")), /expected the call to fail/);
});
