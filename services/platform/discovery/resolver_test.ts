import assert from "node:assert/strict";
import { etcdForTests } from "../testing/etcd.ts";
import { eventually } from "../testing/eventually.ts";
import { EtcdClient } from "./etcd_client.ts";
import type { InstanceRecord } from "./instance.ts";
import { createResolver, type EndpointChange } from "./resolver.ts";

function record(service: string, instanceId: string, port: number): InstanceRecord {
  return {
    service,
    instanceId,
    address: "127.0.0.1",
    port,
    url: `https://127.0.0.1:${port}`,
    protocols: ["grpc", "grpc-web", "connect"],
    tls: true,
    mtls: true,
    metricsPath: "/metrics",
    healthService: "grpc.health.v1.Health",
    version: "test",
    startTime: new Date().toISOString(),
    hostname: "test",
    pid: 1,
    metadata: {},
  };
}

Deno.test("a resolver lists the registered instances, then follows every registration and removal", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "resolver" });
  const etcd = new EtcdClient(ns.root);
  const prefix = `${ns.prefix}services`;
  const put = (r: InstanceRecord) => etcd.put(`${prefix}/${r.service}/${r.instanceId}`, JSON.stringify(r));
  await put(record("product", "p-1", 1001));
  await put(record("order", "o-1", 2001));
  await using resolver = createResolver({ etcd, prefix });
  try {
    await resolver.ready();
    assert.equal(resolver.status.state, "synced");
    assert.deepEqual(resolver.endpoints("product").map((e) => e.url), ["https://127.0.0.1:1001"]);
    assert.deepEqual([...resolver.services().keys()], ["order", "product"]);

    const changes: EndpointChange[] = [];
    resolver.onChange((change) => changes.push(change));
    // Each step waits for its change: etcd may deliver writes made in quick succession in one watch
    // message, and the resolver then reports them as one change.
    const seen = (count: number) => eventually(`change ${count} arrives`, () => changes.length >= count);
    await put(record("product", "p-2", 1002));
    await seen(1);
    await etcd.delete(`${prefix}/product/p-1`);
    await seen(2);
    // Keys that do not follow the layout, or hold no instance record, are ignored.
    await etcd.put(`${prefix}/product`, "{}");
    await etcd.put(`${prefix}/product/p-3`, "not json");
    await put({ ...record("product", "p-2", 1002), version: "2" });
    await seen(3);
    // A fence: the watch delivers in order, so once this change is seen every earlier one has been.
    await put(record("order", "o-2", 2002));
    await eventually("the fence's change arrives", () => changes.some((c) => c.service === "order"));

    assert.deepEqual(
      changes.map((c) => ({
        service: c.service,
        added: c.added.map((e) => e.instanceId),
        updated: c.updated.map((e) => `${e.instanceId}@${e.version}`),
        removed: c.removed.map((e) => e.instanceId),
        endpoints: c.endpoints.map((e) => e.instanceId),
      })),
      [
        { service: "product", added: ["p-2"], updated: [], removed: [], endpoints: ["p-1", "p-2"] },
        { service: "product", added: [], updated: [], removed: ["p-1"], endpoints: ["p-2"] },
        { service: "product", added: [], updated: ["p-2@2"], removed: [], endpoints: ["p-2"] },
        { service: "order", added: ["o-2"], updated: [], removed: [], endpoints: ["o-1", "o-2"] },
      ],
    );
    assert.deepEqual(resolver.endpoints("product").map((e) => e.instanceId), ["p-2"]);
    assert.deepEqual(resolver.endpoints("payment"), []);
  } finally {
    await resolver.close();
    etcd.close();
  }
});
