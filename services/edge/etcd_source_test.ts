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
  const first = await registerInstance(server(50052), { etcd: ns.root, service: "product", prefix });
  const source = new EtcdEndpointSource({ etcd: ns.root, prefix });
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
    const second = await registerInstance(server(50062), { etcd: ns.root, service: "product", prefix });
    assert.deepEqual((await added).map((e) => e.port).sort(), [50052, 50062]);
    const removed = next();
    await second.deregister();
    assert.deepEqual((await removed).map((e) => e.port), [50052]);
  } finally {
    await first.deregister();
    await source.close();
  }
});

Deno.test("an instance registered by host name (a container) is handed on at the name's addresses", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "edge_dns" });
  const prefix = `${ns.prefix}services`;
  const server = {
    url: "https://127.0.0.1:50072",
    onShutdown: (_phase: "deregister" | "close", _hook: () => unknown) => {},
  };
  const named = await registerInstance(server, {
    etcd: ns.root,
    service: "order",
    prefix,
    advertiseHost: "localhost",
  });
  const unknown = await registerInstance({ ...server, url: "https://127.0.0.1:50073" }, {
    etcd: ns.root,
    service: "order",
    prefix,
    advertiseHost: "no-such-host.invalid",
  });
  const source = new EtcdEndpointSource({ etcd: ns.root, prefix });
  let latest: readonly Endpoint[] = [];
  await source.watch((endpoints) => void (latest = endpoints));
  try {
    assert.equal(named.record.address, "localhost");
    assert.deepEqual(latest, [{ service: "order", address: "127.0.0.1", port: 50072 }]);
  } finally {
    await named.deregister();
    await unknown.deregister();
    await source.close();
  }
});
