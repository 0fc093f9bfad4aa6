import assert from "node:assert/strict";
import { registerInstance } from "@shop/platform/discovery";
import { etcdForTests } from "@shop/platform/testing";
import type { Endpoint } from "./endpoint_source.ts";
import { EtcdEndpointSource } from "./etcd_source.ts";

Deno.test("the etcd source lists registered instances and follows them coming and going", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "edge" });
  const prefix = `${ns.prefix}services`;
  const hooks: Array<() => unknown> = [];
  const server = (port: number) => ({
    url: `https://127.0.0.1:${port}`,
    onShutdown: (_phase: "deregister" | "close", hook: () => unknown) => void hooks.push(hook),
  });
  const first = await registerInstance(server(50052), { etcd: ns.url, service: "product", prefix });
  const source = new EtcdEndpointSource({ etcd: ns.url, prefix });
  const seen: Array<readonly Endpoint[]> = [];
  let changed: () => void = () => {};
  await source.watch((endpoints) => {
    seen.push(endpoints);
    changed();
  });
  const next = () =>
    new Promise<readonly Endpoint[]>((resolve) => (changed = () => resolve(seen.at(-1) ?? [])));
  try {
    assert.deepEqual(seen.at(-1), [{ service: "product", address: "127.0.0.1", port: 50052 }]);
    const added = next();
    const second = await registerInstance(server(50062), { etcd: ns.url, service: "product", prefix });
    assert.deepEqual((await added).map((e) => e.port).sort(), [50052, 50062]);
    const removed = next();
    await second.deregister();
    assert.deepEqual((await removed).map((e) => e.port), [50052]);
  } finally {
    await first.deregister();
    await source.close();
  }
});
