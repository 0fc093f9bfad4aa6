import assert from "node:assert/strict";
import { crashed, renderStressReport } from "./report.ts";
import { failureKind, Tally } from "./tally.ts";

Deno.test("crashed() tells a crash from the run's own stop", () => {
  assert.equal(crashed({ name: "product-1", pid: 1, alive: false, signal: "SIGSEGV" }), true);
  assert.equal(crashed({ name: "product-1", pid: 1, alive: false, signal: "SIGABRT" }), true);
  assert.equal(crashed({ name: "order-1", pid: 2, alive: false, signal: "SIGKILL" }), false);
  assert.equal(crashed({ name: "order-1", pid: 2, alive: false, code: 1, signal: null }), false);
  assert.equal(crashed({ name: "user-1", pid: 3, alive: true }), false);
});

Deno.test("renderStressReport() names each process's end, the outcomes and the verdict", () => {
  const tally = new Tally();
  tally.count("gateway reads", "200");
  tally.count("gateway reads", "200");
  tally.count("gateway reads", "aborted");
  const text = renderStressReport({
    seconds: 120,
    runDir: "/tmp/run",
    processes: [
      {
        name: "product-1",
        pid: 10,
        alive: false,
        signal: "SIGSEGV",
        atSecond: 42,
        coreFile: "core.product-1",
      },
      { name: "order-1", pid: 11, alive: true, stderrBytes: 0 },
    ],
    outcomes: tally.outcomes(),
    pauses: ["ferretdb (1 processes) frozen 2001 ms"],
    kernel: ["deno[10]: segfault at b11"],
  });
  assert.match(text, /\| product-1 \| 10 \| killed by SIGSEGV at 42 s \| 0 B \| core.product-1 \|/);
  assert.match(text, /\| order-1 \| 11 \| alive at the end \|/);
  assert.match(text, /\| gateway reads \| 200: 2, aborted: 1 \|/);
  assert.match(text, /Verdict: 1 process\(es\) crashed: product-1 \(SIGSEGV\)\./);
});

Deno.test("failureKind() calls our own deadlines aborted and lost connections connection errors", () => {
  assert.equal(failureKind(new DOMException("timed out", "TimeoutError")), "aborted");
  assert.equal(failureKind(new DOMException("aborted", "AbortError")), "aborted");
  assert.equal(failureKind(new TypeError("error sending request")), "connection error");
});
