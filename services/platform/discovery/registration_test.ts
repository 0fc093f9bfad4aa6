import assert from "node:assert/strict";
import type { ShutdownPhase } from "../server/start_server.ts";
import { etcdForTests } from "../testing/etcd.ts";
import { eventually } from "../testing/eventually.ts";
import { EtcdClient } from "./etcd_client.ts";
import { parseInstanceRecord } from "./instance.ts";
import { registerInstance } from "./registration.ts";

/** Stands in for a RunningServer: registration only needs its URL and its shutdown hooks. */
function fakeServer(url: string) {
  const hooks: Record<ShutdownPhase, Array<() => unknown>> = { deregister: [], close: [] };
  return {
    url,
    onShutdown(phase: ShutdownPhase, hook: () => unknown) {
      hooks[phase].push(hook);
    },
    async runDeregisterHooks() {
      for (const hook of hooks.deregister) await hook();
    },
  };
}

Deno.test("an instance registers under <prefix>/<service>/<instance-id> with a leased JSON record", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "register" });
  const etcd = new EtcdClient(ns.root);
  const server = fakeServer("https://127.0.0.1:45123");
  const prefix = `${ns.prefix}services`;
  try {
    const registration = await registerInstance(server, {
      etcd,
      service: "product",
      instanceId: "product-a",
      prefix,
      ttlSeconds: 7,
      version: "1.2.3",
      metadata: { zone: "z1" },
    });
    assert.equal(registration.key, `${prefix}/product/product-a`);
    assert.equal(registration.registered, true);

    const { kvs } = await etcd.rangePrefix(`${prefix}/`);
    assert.equal(kvs.length, 1);
    const [stored] = kvs;
    assert.ok(stored);
    assert.equal(stored.key, `${prefix}/product/product-a`);
    assert.notEqual(stored.lease, "0", "the key is attached to a lease");
    const record = parseInstanceRecord(stored.value);
    assert.deepEqual(
      { ...record, startTime: typeof record?.startTime, hostname: typeof record?.hostname },
      {
        service: "product",
        instanceId: "product-a",
        address: "127.0.0.1",
        port: 45123,
        url: "https://127.0.0.1:45123",
        protocols: ["grpc", "grpc-web", "connect"],
        tls: true,
        mtls: true,
        metricsPath: "/metrics",
        healthService: "grpc.health.v1.Health",
        version: "1.2.3",
        startTime: "string",
        hostname: "string",
        pid: Deno.pid,
        metadata: { zone: "z1" },
      },
    );
    const ttl = await etcd.keepAlive(stored.lease);
    assert.ok(ttl > 0 && ttl <= 7, `TTL ${ttl}`);

    await server.runDeregisterHooks();
    assert.equal(registration.registered, false);
    assert.deepEqual((await etcd.rangePrefix(`${prefix}/`)).kvs, [], "the key is gone at once");
    assert.equal(await etcd.keepAlive(stored.lease), 0, "the lease is revoked");
  } finally {
    etcd.close();
  }
});

Deno.test("a restart under the same instance id stays registered when the dead process's lease ends", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "register_same_id" });
  const etcd = new EtcdClient(ns.root);
  const prefix = `${ns.prefix}services`;
  const options = { etcd, service: "product", instanceId: "product-1", prefix, ttlSeconds: 7 };
  try {
    const old = fakeServer("https://127.0.0.1:45123");
    const dead = await registerInstance(old, options);
    // The restarted process registers while the dead one's lease still runs.
    const restarted = fakeServer("https://127.0.0.1:45124");
    const registration = await registerInstance(restarted, options);
    assert.equal(registration.key, dead.key);
    // The old lease ends (revoked here, as its expiry would end it): only keys still on it go.
    await old.runDeregisterHooks();
    const after = (await etcd.rangePrefix(`${prefix}/`)).kvs;
    assert.deepEqual(
      after.map((kv) => parseInstanceRecord(kv.value)?.port),
      [45124],
      "the new process's record",
    );
    await restarted.runDeregisterHooks();
    assert.deepEqual((await etcd.rangePrefix(`${prefix}/`)).kvs, []);
  } finally {
    etcd.close();
  }
});

Deno.test("an instance registers again by itself after its lease is lost", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "reregister" });
  const etcd = new EtcdClient(ns.root);
  const server = fakeServer("https://127.0.0.1:45124");
  const prefix = `${ns.prefix}services`;
  try {
    const registration = await registerInstance(server, { etcd, service: "order", prefix, ttlSeconds: 3 });
    const first = (await etcd.rangePrefix(`${prefix}/`)).kvs[0];
    assert.ok(first);
    // As if etcd had lost the lease (a restart without its data, or a pause longer than the TTL).
    await etcd.revokeLease(first.lease);
    const again = await eventually("the key to come back", async () => {
      const kv = (await etcd.rangePrefix(`${prefix}/`)).kvs[0];
      return kv !== undefined && kv.lease !== first.lease ? kv : undefined;
    });
    assert.equal(again.key, registration.key);
    assert.equal(again.value, first.value, "the same record, under a new lease");
    await server.runDeregisterHooks();
    assert.deepEqual((await etcd.rangePrefix(`${prefix}/`)).kvs, []);
  } finally {
    etcd.close();
  }
});

Deno.test("an instance id or service name that cannot be one key segment is refused", async () => {
  await assert.rejects(
    registerInstance(fakeServer("https://127.0.0.1:1"), { etcd: "http://127.0.0.1:1", service: "a/b" }),
    /service "a\/b" must match/,
  );
});
