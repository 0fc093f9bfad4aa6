import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { instrumentStore } from "./store_metrics.ts";
import { createServiceMetrics } from "./service_metrics.ts";

class Store {
  #rows = new Map([["u-1", "Ada"]]);
  find(id: string): Promise<string | undefined> {
    return Promise.resolve(this.#rows.get(id));
  }
  fail(): Promise<never> {
    return Promise.reject(new Error("connection refused"));
  }
  size(): number {
    return this.#rows.size;
  }
}

Deno.test("store operations are timed by operation and outcome, and the pool size is exported", async () => {
  const registry = new Registry();
  const store = instrumentStore(new Store(), { registry, store: "postgres", poolSize: 10 });
  assert.equal(await store.find("u-1"), "Ada");
  await assert.rejects(store.fail(), /connection refused/);
  assert.equal(store.size(), 1);
  const text = await registry.metrics();
  assert.match(text, /shop_db_operation_seconds_count\{store="postgres",operation="find",outcome="ok"\} 1/);
  assert.match(
    text,
    /shop_db_operation_seconds_count\{store="postgres",operation="fail",outcome="error"\} 1/,
  );
  assert.doesNotMatch(text, /operation="size"/);
  assert.match(text, /shop_db_pool_max_connections\{store="postgres"\} 10/);
  assert.match(text, /shop_db_operations_in_flight\{store="postgres"\} 0/);
});

Deno.test("every service's registry has the log shipper's counters, zero when nothing is shipped", async () => {
  const text = await createServiceMetrics("demo").registry.metrics();
  assert.match(text, /shop_log_lines_dropped_total\{reason="queue_full",service="demo"\} 0/);
  assert.match(text, /shop_log_lines_shipped_total\{service="demo"\} 0/);
});
