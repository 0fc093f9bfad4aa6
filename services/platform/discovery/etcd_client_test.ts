import assert from "node:assert/strict";
import { etcdForTests } from "../testing/etcd.ts";
import { freePort } from "../testing/net.ts";
import { EtcdClient, type EtcdEvent, EtcdUnavailableError, prefixRangeEnd } from "./etcd_client.ts";

Deno.test("a prefix watch through the JSON gateway delivers every change, in order", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "watch-all" });
  const etcd = new EtcdClient(ns.root);
  const stop = new AbortController();
  try {
    const prefix = `${ns.prefix}services/`;
    const { revision } = await etcd.rangePrefix(prefix);
    const seen: string[] = [];
    const expected: string[] = [];
    const total = 150;
    const watching = (async () => {
      for await (const events of etcd.watchPrefix(prefix, revision + 1n, stop.signal)) {
        seen.push(
          ...events.map((e: EtcdEvent) => `${e.type} ${e.kv.key.slice(prefix.length)}=${e.kv.value}`),
        );
        if (seen.length >= total) return;
      }
    })();
    // Writes outside the prefix are not reported; deletes are, with an empty value.
    for (let i = 0; i < total; i++) {
      const key = `s/${i % 5 === 4 ? (i - 1) % 7 : i % 7}`;
      if (i % 5 === 4) {
        // Deletes the key written just before (deleting a missing key is no change at all).
        await etcd.delete(`${prefix}${key}`);
        expected.push(`delete ${key}=`);
      } else {
        await etcd.put(`${prefix}${key}`, `v${i}`);
        expected.push(`put ${key}=v${i}`);
      }
      if (i % 10 === 0) await etcd.put(`${ns.prefix}elsewhere`, "ignored");
    }
    const timeout = setTimeout(() => stop.abort(), 20_000);
    await watching;
    clearTimeout(timeout);
    assert.deepEqual(seen, expected);
  } finally {
    stop.abort();
    etcd.close();
  }
});

Deno.test("a lease's keys vanish when it is revoked, and its keepalive then reports it gone", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "lease" });
  const etcd = new EtcdClient(ns.root);
  try {
    const lease = await etcd.grantLease(30);
    assert.equal(lease.ttlSeconds, 30);
    await etcd.put(`${ns.prefix}a`, "1", lease.id);
    assert.ok(await etcd.keepAlive(lease.id) > 0);
    const { kvs } = await etcd.rangePrefix(ns.prefix);
    assert.deepEqual(kvs.map((kv) => [kv.key, kv.value, kv.lease]), [[`${ns.prefix}a`, "1", lease.id]]);

    await etcd.revokeLease(lease.id);
    assert.deepEqual((await etcd.rangePrefix(ns.prefix)).kvs, []);
    assert.equal(await etcd.keepAlive(lease.id), 0);
    await etcd.revokeLease(lease.id); // Revoking twice is fine.
  } finally {
    etcd.close();
  }
});

Deno.test("an etcd that does not answer is reported as unreachable, naming every endpoint tried", async () => {
  const ports = [freePort(), freePort()];
  const etcd = new EtcdClient({
    endpoints: ports.map((p) => `http://127.0.0.1:${p}`).join(","),
    requestTimeoutMs: 1_000,
  });
  try {
    const error = await etcd.rangePrefix("/shop/services/").then(() => undefined, (e) => e);
    assert.ok(error instanceof EtcdUnavailableError, String(error));
    for (const port of ports) {
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: .*refused`, "i"));
    }
  } finally {
    etcd.close();
  }
});

Deno.test("the range end of a prefix is the prefix with its last byte incremented", () => {
  assert.equal(prefixRangeEnd("/shop/services/"), "/shop/services0");
  assert.equal(prefixRangeEnd("a"), "b");
});
