import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { etcdForTests } from "./etcd.ts";
import { delay } from "./process_group.ts";

Deno.test("etcdForTests() stores and reads keys", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "kv" });
  const client = new Etcd3({ hosts: ns.url });
  try {
    const kv = client.namespace(ns.prefix);
    await kv.put("greeting").value("hello");
    assert.equal(await kv.get("greeting").string(), "hello");
    assert.equal(await client.get(`${ns.prefix}greeting`).string(), "hello");
  } finally {
    client.close();
  }
});

Deno.test("etcdForTests() gives each suite its own prefix, cleared on dispose", async () => {
  const etcd = await etcdForTests();
  const client = new Etcd3({ hosts: etcd.url });
  try {
    const other = await etcd.createNamespace();
    {
      await using ns = await etcd.createNamespace();
      assert.notEqual(ns.prefix, other.prefix);
      await client.namespace(ns.prefix).put("a").value("1");
      await client.namespace(other.prefix).put("a").value("2");
      assert.equal(await client.namespace(ns.prefix).get("a").string(), "1");
      assert.equal(await client.namespace(other.prefix).get("a").string(), "2");
      await ns.clear();
      assert.equal(await client.namespace(ns.prefix).get("a").string(), null);
    }
    assert.equal(
      await client.namespace(other.prefix).get("a").string(),
      "2",
      "clearing one prefix spares others",
    );
    await other.clear();
  } finally {
    client.close();
  }
});

Deno.test("etcdForTests() expires a key when its lease is no longer kept alive", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "lease" });
  const client = new Etcd3({ hosts: ns.url });
  try {
    const kv = client.namespace(ns.prefix);
    const lease = kv.lease(1, { autoKeepAlive: false });
    await lease.put("instance").value("127.0.0.1:9000");
    assert.equal(await kv.get("instance").string(), "127.0.0.1:9000");
    // Not a timing assertion: wait as long as it takes (bounded), then check it is gone.
    let value: string | null = "127.0.0.1:9000";
    for (let i = 0; i < 100 && value !== null; i++) {
      await delay(200);
      value = await kv.get("instance").string();
    }
    assert.equal(value, null);
    lease.release();
  } finally {
    client.close();
  }
});

Deno.test("etcdForTests() delivers prefix watch events", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "watch" });
  const client = new Etcd3({ hosts: ns.url });
  try {
    const kv = client.namespace(ns.prefix);
    const watcher = await kv.watch().prefix("services/").create();
    const seen: string[] = [];
    const twoEvents = new Promise<void>((resolve) => {
      watcher.on("put", (kv) => {
        seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`);
        if (seen.length === 2) resolve();
      });
    });
    await kv.put("services/order/1").value("a");
    await kv.put("elsewhere").value("ignored");
    await kv.put("services/product/1").value("b");
    await twoEvents;
    assert.deepEqual(seen, ["put services/order/1=a", "put services/product/1=b"]);
    await watcher.cancel();
  } finally {
    client.close();
  }
});
