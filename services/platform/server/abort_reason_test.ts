import assert from "node:assert/strict";
import { reuseAbortError } from "./abort_reason.ts";

Deno.test("reuseAbortError() keeps what an abort tells: an AbortError without a reason, the reason given", () => {
  reuseAbortError();
  reuseAbortError(); // twice: installed once
  const plain = new AbortController();
  let heard: unknown;
  plain.signal.addEventListener("abort", () => heard = plain.signal.reason);
  plain.abort();
  assert.equal(plain.signal.aborted, true);
  assert.ok(plain.signal.reason instanceof DOMException);
  assert.equal((plain.signal.reason as DOMException).name, "AbortError");
  assert.equal(heard, plain.signal.reason);
  assert.throws(
    () => plain.signal.throwIfAborted(),
    (error) => (error as DOMException).name === "AbortError",
  );
  const given = new Error("deadline passed");
  const withReason = new AbortController();
  withReason.abort(given);
  assert.equal(withReason.signal.reason, given);
  // An abort after the first changes nothing, as before.
  withReason.abort(new Error("later"));
  assert.equal(withReason.signal.reason, given);
});

Deno.test("a fetch aborted without a reason still fails with an AbortError", async () => {
  reuseAbortError();
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    fetch("http://127.0.0.1:9/", { signal: controller.signal }),
    (error) => (error as DOMException).name === "AbortError",
  );
});
