import assert from "node:assert/strict";
import { productionRefusal } from "./config.ts";

Deno.test("production refuses the test-only crash switch; dev allows it", () => {
  assert.match(
    productionRefusal({ mode: "production", faults: { crashAfter: "charged" } }) ?? "",
    /faults\.crashAfter: a TEST ONLY switch/,
  );
  assert.equal(productionRefusal({ mode: "production", faults: { crashAfter: "" } }), undefined);
  assert.equal(productionRefusal({ mode: "dev", faults: { crashAfter: "charged" } }), undefined);
});
