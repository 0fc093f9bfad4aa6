/**
 * The chaos suite's bounded subset, in the default test run (`deno task test`): under a steady order
 * load, the order service SIGKILLed mid-saga and restarted, the payment service SIGKILLed and
 * restarted, PostgreSQL restarted; after each, the books balance (`books.ts`). The whole suite, every
 * fault, is `deno task chaos` (`all_faults.ts`).
 */
import assert from "node:assert/strict";
import { killAndRestart, restartServer } from "./faults.ts";
import { runChaos } from "./suite.ts";

Deno.test("chaos: under load, order and payment SIGKILLed and PostgreSQL restarted, the books balance", async () => {
  const faults = [killAndRestart("order"), killAndRestart("payment"), restartServer("postgres")];
  const results = await runChaos(faults, { label: "chaos-subset" });
  assert.deepEqual(results.map((result) => result.fault), faults.map((fault) => fault.name));
});
