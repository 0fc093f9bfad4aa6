import assert from "node:assert/strict";
import { etcdAccessOf, EtcdClient, EtcdError } from "../discovery/mod.ts";
import { etcdForTests } from "./etcd.ts";

Deno.test("etcdForTests() gives each suite its own prefix, cleared on dispose", async () => {
  const etcd = await etcdForTests();
  const other = await etcd.createNamespace();
  const root = new EtcdClient(other.root);
  try {
    {
      await using ns = await etcd.createNamespace();
      assert.notEqual(ns.prefix, other.prefix);
      await root.put(`${ns.prefix}a`, "1");
      await root.put(`${other.prefix}a`, "2");
      assert.deepEqual((await root.rangePrefix(ns.prefix)).kvs.map((kv) => kv.value), ["1"]);
      await ns.clear();
      assert.deepEqual((await root.rangePrefix(ns.prefix)).kvs, []);
    }
    assert.deepEqual(
      (await root.rangePrefix(other.prefix)).kvs.map((kv) => kv.value),
      ["2"],
      "clearing one prefix spares others",
    );
  } finally {
    await other[Symbol.asyncDispose]();
    root.close();
  }
});

/** Whether `call` is refused by etcd (permission, or no user), rather than done. */
async function refused(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof EtcdError) return error.message;
    throw error;
  }
  assert.fail("etcd did it");
}

Deno.test("the registry: TLS with the shop's client certificates, and each service writes only its own registrations", async (t) => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "access" });
  const key = (service: string) => `${ns.registryPrefix}/${service}/instance-1`;
  const order = new EtcdClient(await ns.access("order"));
  const payment = new EtcdClient(await ns.access("payment"));
  try {
    await t.step("a service registers itself, with a lease, and reads every registration", async () => {
      const lease = await order.grantLease(10);
      await order.put(key("order"), '{"address":"127.0.0.1:1"}', lease.id);
      await payment.put(key("payment"), '{"address":"127.0.0.1:2"}');
      const { kvs } = await order.rangePrefix(`${ns.registryPrefix}/`);
      assert.deepEqual(kvs.map((kv) => kv.key).sort(), [key("order"), key("payment")]);
    });

    await t.step("it cannot register as, or remove, another service", async () => {
      assert.match(
        await refused(order.put(key("payment"), '{"address":"10.6.6.6:443"}')),
        /permission denied/,
      );
      assert.match(await refused(order.delete(key("payment"))), /permission denied/);
      assert.match(await refused(order.put(`${ns.prefix}elsewhere`, "x")), /permission denied/);
    });

    await t.step("a certificate of the shop's CA without a user, or a wrong password: refused", async () => {
      const { tls } = await ns.access("order");
      const anonymous = new EtcdClient({ endpoints: [ns.url], ...(tls === undefined ? {} : { tls }) });
      const guessing = new EtcdClient({
        endpoints: [ns.url],
        ...(tls === undefined ? {} : { tls }),
        auth: { user: "payment", password: "guess" },
      });
      try {
        assert.match(await refused(anonymous.put(key("payment"), "x")), /user name is empty/);
        assert.match(await refused(guessing.put(key("payment"), "x")), /authentication failed/);
      } finally {
        anonymous.close();
        guessing.close();
      }
    });

    await t.step("without a client certificate of the shop's CA: no connection at all", async () => {
      const access = await etcdAccessOf({
        endpoints: [ns.url],
        certsDir: (await etcdForTests()).certsDir,
        identity: "order",
      });
      const noCertificate = new EtcdClient({
        endpoints: [ns.url],
        ...(access.tls === undefined ? {} : { tls: { ca: access.tls.ca } }),
        ...(access.auth === undefined ? {} : { auth: access.auth }),
      });
      try {
        await assert.rejects(noCertificate.rangePrefix(`${ns.registryPrefix}/`), /unreachable/);
      } finally {
        noCertificate.close();
      }
      const unauthenticated = await fetch(`${ns.url}/v3/kv/range`, { method: "POST", body: "{}" }).then(
        (response) => `answered ${response.status}`,
        () => "refused",
      );
      assert.equal(unauthenticated, "refused");
    });
  } finally {
    order.close();
    payment.close();
  }
});
