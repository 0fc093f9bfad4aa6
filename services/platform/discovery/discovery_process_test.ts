/**
 * Discovery with real processes: sample service processes register in a real etcd, a client in this
 * process calls them by name through the discovery transport, and instances, etcd, or both go away.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ProductService } from "@shop/proto/product";
import { createServiceTransport } from "../client/service_transport.ts";
import { etcdForTests } from "../testing/etcd.ts";
import { eventually } from "../testing/eventually.ts";
import { freePort } from "../testing/net.ts";
import { delay, isRunning, ProcessGroup } from "../testing/process_group.ts";
import { startEtcd } from "../testing/servers.ts";
import { type ServiceProcess, startServiceProcess } from "../testing/service_process.ts";
import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";
import {
  createDiscoveryTransport,
  neverReachedServer,
  refusedWhileShuttingDown,
} from "./discovery_transport.ts";
import { EtcdClient, EtcdCompactedError } from "./etcd_client.ts";
import { createResolver, type Resolver } from "./resolver.ts";
import type { EtcdTarget } from "./registration.ts";

const certsDir = await ensureDevCertificates();
const clientTls = await readTlsFiles(certsDir, "gateway");
const sampleService = new URL("../testdata/sample_service.ts", import.meta.url);

interface SampleOptions {
  etcdUrl: string;
  prefix: string;
  ttlSeconds?: number;
  preStopDelayMs?: number;
}

function startSample(options: SampleOptions): Promise<ServiceProcess> {
  return startServiceProcess(sampleService, {
    env: {
      SHOP_SAMPLE_CERTS_DIR: certsDir,
      SHOP_SAMPLE_DISCOVERY_ETCD: options.etcdUrl,
      SHOP_SAMPLE_DISCOVERY_PREFIX: options.prefix,
      SHOP_SAMPLE_DISCOVERY_TTL_SECONDS: String(options.ttlSeconds ?? 10),
      SHOP_SAMPLE_PRE_STOP_DELAY: `${options.preStopDelayMs ?? 0}ms`,
    },
  });
}

/** The sample registers under its instance id, `sample-<pid>`. */
function instanceOf(sample: ServiceProcess): string {
  return `sample-${sample.child.pid}`;
}

async function registeredInstances(etcd: EtcdClient, prefix: string): Promise<string[]> {
  const { kvs } = await etcd.rangePrefix(`${prefix}/`);
  return kvs.map((kv) => kv.key.slice(prefix.length + 1)).sort();
}

interface CallRecord {
  at: number;
  servedBy?: string;
  relayedTo?: string;
  error?: ConnectError;
}

/**
 * Calls GetProduct(`id`) in `concurrency` loops until stopped (and at most `maxCalls` times in all),
 * recording who answered or how it failed.
 */
function callLoop(transport: ReturnType<typeof createDiscoveryTransport>, id: string, concurrency: number) {
  const catalog = createClient(ProductService, transport);
  const records: CallRecord[] = [];
  const maxCalls = 3_000;
  let stopped = false;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && records.length < maxCalls) {
      const record: CallRecord = { at: Date.now() };
      try {
        await catalog.getProduct({ id }, {
          onHeader: (headers) => {
            record.servedBy = headers.get("x-served-by") ?? "";
            record.relayedTo = headers.get("x-relayed-to") ?? "";
          },
        });
      } catch (error) {
        record.error = ConnectError.from(error);
      }
      records.push(record);
    }
  });
  return {
    records,
    failures: () => records.filter((r) => r.error !== undefined),
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

function describeFailures(records: CallRecord[]): string {
  return records.map((r) => `${Code[r.error?.code ?? 0]}: ${r.error?.rawMessage}`).join("\n");
}

async function withResolver<T>(
  etcd: EtcdTarget,
  prefix: string,
  body: (resolver: Resolver) => Promise<T>,
): Promise<T> {
  const resolver = createResolver({ etcd, prefix });
  try {
    return await body(resolver);
  } finally {
    await resolver.close();
  }
}

Deno.test("two registered sample processes share a discovery client's calls and call each other by name", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "spread" });
  const prefix = `${ns.prefix}services`;
  const samples = await Promise.all([
    startSample({ etcdUrl: ns.url, prefix }),
    startSample({ etcdUrl: ns.url, prefix }),
  ]);
  const etcd = new EtcdClient(ns.root);
  try {
    await withResolver(ns.root, prefix, async (resolver) => {
      const expected = samples.map((s) => `sample/${instanceOf(s)}`).sort();
      await eventually(
        "both instances in etcd",
        async () => JSON.stringify(await registeredInstances(etcd, prefix)) === JSON.stringify(expected),
        { timeoutMs: 15_000 },
      );
      await eventually("both instances resolved", () => resolver.endpoints("sample").length === 2, {
        timeoutMs: 5_000,
      });
      assert.deepEqual(
        resolver.endpoints("sample").map((e) => e.url).sort(),
        samples.map((s) => s.url).sort(),
        "each instance is registered with the URL it serves on",
      );

      const transport = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
      });
      try {
        const catalog = createClient(ProductService, transport);
        const servedBy: string[] = [];
        const relayedTo: string[] = [];
        for (let i = 0; i < 20; i++) {
          const { product } = await catalog.getProduct({ id: i % 2 === 0 ? `p-${i}` : `relay-p-${i}` }, {
            onHeader: (headers) => {
              servedBy.push(headers.get("x-served-by") ?? "");
              if (headers.has("x-relayed-to")) relayedTo.push(headers.get("x-relayed-to") ?? "");
            },
          });
          assert.equal(product?.id, `p-${i}`);
        }
        for (const sample of samples) {
          const name = instanceOf(sample);
          const served = servedBy.filter((s) => s === name).length;
          assert.ok(served >= 5, `${name} served ${served} of 20 calls`);
          assert.ok(relayedTo.includes(name), `the instances' own discovery clients reach ${name} too`);
        }
      } finally {
        transport.close();
      }
    });
  } finally {
    etcd.close();
    await Promise.all(samples.map((s) => s.kill()));
  }
});

Deno.test("SIGTERM: the instance leaves etcd while still serving, and a client calling in a loop sees no failure", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "sigterm" });
  const prefix = `${ns.prefix}services`;
  const [leaving, staying] = await Promise.all([
    startSample({ etcdUrl: ns.url, prefix, preStopDelayMs: 1_500 }),
    startSample({ etcdUrl: ns.url, prefix, preStopDelayMs: 1_500 }),
  ]);
  assert.ok(leaving && staying);
  try {
    await withResolver(ns.root, prefix, async (resolver) => {
      await eventually("both instances resolved", () => resolver.endpoints("sample").length === 2, {
        timeoutMs: 15_000,
      });
      const leavingKey = `${prefix}/sample/${instanceOf(leaving)}`;
      let removedAt: number | undefined;
      resolver.onChange((change) => {
        if (change.removed.some((e) => e.key === leavingKey)) removedAt ??= Date.now();
      });
      const transport = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
      });
      const direct = createServiceTransport({
        baseUrl: leaving.url,
        tls: clientTls,
        defaultTimeoutMs: 3_000,
      });
      // Calls that take a while, so that some are in flight on the leaving instance when it drains.
      const loop = callLoop(transport, "slow-30", 4);
      try {
        const servedBy = (sample: ServiceProcess) =>
          loop.records.filter((r) => r.servedBy === instanceOf(sample)).length;
        await eventually("calls served by both", () => servedBy(leaving) >= 10 && servedBy(staying) >= 10, {
          timeoutMs: 10_000,
        });
        leaving.signal("SIGTERM");
        await eventually("the leaving instance gone from the resolver", () => removedAt !== undefined, {
          timeoutMs: 10_000,
        });
        // Out of etcd, but still serving: nobody is sent to it any more, and whoever was gets an answer.
        const { product } = await createClient(ProductService, direct).getProduct({ id: "p-direct" });
        assert.equal(product?.id, "p-direct", "the instance still serves after leaving etcd");
        assert.equal(isRunning(leaving.child.pid), true);

        const status = await leaving.child.status;
        assert.equal(status.code, 0);
        const exitedAt = Date.now();
        await eventually(
          "more calls after it exited",
          () => loop.records.filter((r) => r.at > exitedAt).length >= 8,
          { timeoutMs: 10_000 },
        );
      } finally {
        await loop.stop();
        transport.close();
        direct.close();
      }
      assert.deepEqual(loop.failures(), [], describeFailures(loop.failures()));
      assert.ok(loop.records.length >= 20, `${loop.records.length} calls made`);
      const afterRemoval = loop.records.filter((r) => removedAt !== undefined && r.at > removedAt + 100);
      assert.ok(
        afterRemoval.every((r) => r.servedBy === instanceOf(staying)),
        "calls after removal go to the other",
      );
      const messages = leaving.logs.map((line) => String(line.message));
      const deregistered = messages.findIndex((m) => m.startsWith("Deregistered"));
      assert.ok(deregistered >= 0 && deregistered < messages.indexOf("Stopped"), messages.join("\n"));
    });
  } finally {
    await leaving.kill();
    await staying.kill();
  }
});

Deno.test("SIGTERM with no pre-stop delay: calls refused by the draining instance are sent elsewhere", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "sigterm-race" });
  const prefix = `${ns.prefix}services`;
  const [leaving, staying] = await Promise.all([
    startSample({ etcdUrl: ns.url, prefix, preStopDelayMs: 0 }),
    startSample({ etcdUrl: ns.url, prefix, preStopDelayMs: 0 }),
  ]);
  assert.ok(leaving && staying);
  try {
    await withResolver(ns.root, prefix, async (resolver) => {
      await eventually("both instances resolved", () => resolver.endpoints("sample").length === 2, {
        timeoutMs: 15_000,
      });
      const transport = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
      });
      // Not idempotent (the default for GetProduct): only refusals that prove the handler never ran
      // (SHUTTING_DOWN, a refused connection) may be retried, and calls already running must finish.
      const loop = callLoop(transport, "slow-30", 6);
      try {
        const servedBy = (sample: ServiceProcess) =>
          loop.records.filter((r) => r.servedBy === instanceOf(sample)).length;
        await eventually("calls served by both", () => servedBy(leaving) >= 10 && servedBy(staying) >= 10, {
          timeoutMs: 10_000,
        });
        leaving.signal("SIGTERM");
        assert.equal((await leaving.child.status).code, 0);
        const exitedAt = Date.now();
        await eventually(
          "more calls after it exited",
          () => loop.records.filter((r) => r.at > exitedAt).length >= 8,
          { timeoutMs: 10_000 },
        );
      } finally {
        await loop.stop();
        transport.close();
      }
      // Without the delay, the kit's server can cut a response it is still flushing when it tears its
      // connections down (seen about once in three runs, as "error reading a body from connection"):
      // such a call may have run, so it is not retried. Every refusal that proves the handler never ran
      // must have been retried, so none of those may reach the caller.
      const failed = loop.failures();
      assert.ok(failed.length <= 6, describeFailures(failed));
      for (const record of failed) {
        const error = record.error;
        assert.ok(error !== undefined);
        assert.equal(
          neverReachedServer(error) || refusedWhileShuttingDown(error),
          false,
          describeFailures([record]),
        );
      }
    });
  } finally {
    await leaving.kill();
    await staying.kill();
  }
});

Deno.test("SIGKILL: the instance vanishes within its lease TTL, and only calls in flight at the kill fail", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "sigkill" });
  const prefix = `${ns.prefix}services`;
  const ttlSeconds = 2;
  const [killed, surviving] = await Promise.all([
    startSample({ etcdUrl: ns.url, prefix, ttlSeconds }),
    startSample({ etcdUrl: ns.url, prefix, ttlSeconds }),
  ]);
  assert.ok(killed && surviving);
  const etcd = new EtcdClient(ns.root);
  try {
    await withResolver(ns.root, prefix, async (resolver) => {
      await eventually("both instances resolved", () => resolver.endpoints("sample").length === 2, {
        timeoutMs: 15_000,
      });
      const plain = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
      });
      const idempotent = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
        isIdempotent: (method) => method.name === "GetProduct",
      });
      const plainConcurrency = 3;
      const plainLoop = callLoop(plain, "slow-100", plainConcurrency);
      const idempotentLoop = callLoop(idempotent, "slow-100", 2);
      let killedAt = 0;
      try {
        await eventually(
          "calls served by both",
          () =>
            new Set(plainLoop.records.map((r) => r.servedBy)).size >= 2 && idempotentLoop.records.length > 4,
          { timeoutMs: 10_000 },
        );
        killedAt = Date.now();
        await killed.kill();
        // Gone from etcd once its lease expires: within the TTL (plus etcd's own granularity).
        await eventually(
          "the killed instance to vanish from etcd",
          async () => !(await registeredInstances(etcd, prefix)).includes(`sample/${instanceOf(killed)}`),
          { timeoutMs: ttlSeconds * 1000 + 5_000 },
        );
        await eventually("it leaves the resolver too", () => resolver.endpoints("sample").length === 1, {
          timeoutMs: 5_000,
        });
        const goneAt = Date.now();
        await eventually(
          "more calls afterwards",
          () => plainLoop.records.filter((r) => r.at > goneAt).length >= 6,
          { timeoutMs: 10_000 },
        );
      } finally {
        await plainLoop.stop();
        await idempotentLoop.stop();
        plain.close();
        idempotent.close();
      }
      assert.deepEqual(idempotentLoop.failures(), [], describeFailures(idempotentLoop.failures()));
      const failed = plainLoop.failures();
      assert.ok(
        failed.length <= plainConcurrency,
        `at most the calls in flight failed:\n${describeFailures(failed)}`,
      );
      for (const record of failed) {
        assert.equal(record.error?.code, Code.Unavailable);
        assert.ok(record.at < killedAt, "only calls started before the kill fail");
      }
      const afterKill = plainLoop.records.filter((r) => r.at > killedAt + 50 && r.error === undefined);
      assert.ok(afterKill.length > 0 && afterKill.every((r) => r.servedBy === instanceOf(surviving)));
    });
  } finally {
    etcd.close();
    await killed.kill();
    await surviving.kill();
  }
});

Deno.test("etcd restarted without its data: instances keep serving and calling each other, then register again", async () => {
  const group = await ProcessGroup.create();
  const [port, peerPort] = [freePort(), freePort()];
  const etcdUrl = `http://127.0.0.1:${port}`;
  const prefix = "/shop/services";
  const ttlSeconds = 3;
  let samples: ServiceProcess[] = [];
  const etcd = new EtcdClient({ endpoints: etcdUrl });
  try {
    const first = await startEtcd(group, { port, peerPort, dataDir: `${group.dir}/etcd-1` });
    samples = await Promise.all([
      startSample({ etcdUrl, prefix, ttlSeconds }),
      startSample({ etcdUrl, prefix, ttlSeconds }),
    ]);
    const expected = samples.map((s) => `sample/${instanceOf(s)}`).sort();
    await withResolver(etcdUrl, prefix, async (resolver) => {
      await eventually("both instances resolved", () => resolver.endpoints("sample").length === 2, {
        timeoutMs: 15_000,
      });
      const transport = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
      });
      const direct = callLoop(transport, "p-1", 1);
      // Each call makes the instance that takes it call an instance it finds through its own resolver.
      const relayed = callLoop(transport, "relay-p-1", 1);
      let stoppedAt = 0;
      let restartedAt = 0;
      try {
        await eventually("calls flowing", () => relayed.records.length > 4, { timeoutMs: 10_000 });
        Deno.kill(-first.process.pid, "SIGKILL");
        await eventually("etcd to be gone", () => !isRunning(first.process.pid), { timeoutMs: 5_000 });
        stoppedAt = Date.now();
        // Longer than the lease TTL: on their own, the registrations would have expired by now.
        await delay(ttlSeconds * 1000 + 1_000);
        assert.equal(resolver.status.state, "unreachable");
        assert.match(
          resolver.status.error ?? "",
          new RegExp(`etcd is unreachable at ${etcdUrl}.*last known`),
        );
        assert.equal(resolver.endpoints("sample").length, 2, "the last known endpoints are kept");

        // The worst case: etcd comes back empty (a lost data directory, a new cluster).
        await startEtcd(group, { port, peerPort, dataDir: `${group.dir}/etcd-2` });
        restartedAt = Date.now();
        await eventually("both instances registered again", async () => {
          return JSON.stringify(await registeredInstances(etcd, prefix)) === JSON.stringify(expected);
        }, { timeoutMs: 10_000 });
        await eventually("the resolver synced again", () => resolver.status.state === "synced", {
          timeoutMs: 5_000,
        });
        const back = Date.now();
        await eventually(
          "calls after the return",
          () => relayed.records.filter((r) => r.at > back).length >= 3,
          { timeoutMs: 10_000 },
        );
      } finally {
        await direct.stop();
        await relayed.stop();
        transport.close();
      }
      const during = (r: CallRecord) => r.at > stoppedAt && r.at < restartedAt;
      assert.ok(direct.records.filter(during).length >= 3, "calls went on while etcd was down");
      assert.ok(
        relayed.records.filter(during).length >= 3,
        "instances called each other while etcd was down",
      );
      assert.deepEqual(direct.failures(), [], describeFailures(direct.failures()));
      assert.deepEqual(relayed.failures(), [], describeFailures(relayed.failures()));
      const relayTargets = new Set(relayed.records.filter(during).map((r) => r.relayedTo));
      assert.equal(relayTargets.size, 2, "from their cached sets, the instances reached both peers");
    });
    for (const sample of samples) {
      assert.ok(
        sample.logs.some((line) => String(line.message).includes("registering again")),
        "each instance noticed its lease was gone",
      );
    }
  } finally {
    etcd.close();
    await Promise.all(samples.map((s) => s.kill()));
    await group.stop();
  }
});

Deno.test("a resolver started while etcd is down says why, then catches up once etcd is back", async () => {
  const group = await ProcessGroup.create();
  const [port, peerPort] = [freePort(), freePort()];
  const etcdUrl = `http://127.0.0.1:${port}`;
  const prefix = "/shop/services";
  let sample: ServiceProcess | undefined;
  const etcd = new EtcdClient({ endpoints: etcdUrl });
  try {
    await withResolver(etcdUrl, prefix, async (resolver) => {
      await eventually("the resolver to give up on etcd", () => resolver.status.state === "unreachable", {
        timeoutMs: 10_000,
      });
      assert.match(
        resolver.status.error ?? "",
        new RegExp(`^etcd is unreachable at ${etcdUrl}: .*refused.*; no endpoints known yet$`, "i"),
      );
      await assert.rejects(
        resolver.ready(500),
        /discovery is not ready after 500 ms: etcd is unreachable at/,
      );
      const transport = createDiscoveryTransport({
        resolver,
        service: "sample",
        identity: "product",
        tls: clientTls,
      });
      try {
        const catalog = createClient(ProductService, transport);
        const error = await catalog.getProduct({ id: "p-1" }).catch(ConnectError.from);
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.Unavailable);
        assert.match(
          error.rawMessage,
          /no endpoint of service sample to call \(discovery is unreachable: etcd is/,
        );

        // An instance that starts while etcd is down serves anyway, and registers once it can.
        sample = await startSample({ etcdUrl, prefix, ttlSeconds: 3 });
        await startEtcd(group, { port, peerPort, dataDir: `${group.dir}/etcd` });
        await resolver.ready(10_000);
        await eventually("the instance to be resolved", () => resolver.endpoints("sample").length === 1, {
          timeoutMs: 10_000,
        });
        assert.equal(resolver.status.state, "synced");
        const { product } = await catalog.getProduct({ id: "p-2" });
        assert.equal(product?.id, "p-2");
      } finally {
        transport.close();
      }
    });

    // A watch from a revision that was compacted away says so, and the resolver lists again.
    const { revision } = await etcd.rangePrefix(`${prefix}/`);
    await etcd.put("/other", "x");
    await etcd.compact(revision + 1n);
    const stop = new AbortController();
    const watched = await (async () => {
      for await (const _ of etcd.watchPrefix(`${prefix}/`, 1n, stop.signal)) return "events";
      return "ended";
    })().catch((error) => error);
    stop.abort();
    assert.ok(watched instanceof EtcdCompactedError, String(watched));
  } finally {
    etcd.close();
    await sample?.kill();
    await group.stop();
  }
});
