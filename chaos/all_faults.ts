/**
 * The whole chaos suite, every fault of `faults.ts` one after the other under load (`deno task chaos`;
 * not named `_test.ts`, so the default test run leaves it to the bounded subset in `chaos_test.ts`).
 */
import assert from "node:assert/strict";
import { allFaults } from "./faults.ts";
import { runChaos } from "./suite.ts";

Deno.test("chaos: under load, every fault one at a time, the books balance after each", async () => {
  const results = await runChaos(allFaults, { label: "chaos" });
  assert.deepEqual(results.map((result) => result.fault), allFaults.map((fault) => fault.name));
});
