import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { RetryBudget } from "../client/retry_budget.ts";
import { ProductSchema, ProductService } from "@shop/proto/product";
import { DomainError } from "../errors/domain_error.ts";
import { type RunningServer, startServer } from "../server/start_server.ts";
import { etcdForTests } from "../testing/etcd.ts";
import { freePort } from "../testing/net.ts";
import { ensureDevCertificates, readTlsFiles, type TlsFiles } from "../tls/tls_files.ts";
import { createDiscoveryTransport, type DiscoveryTransportOptions } from "./discovery_transport.ts";
import type { ClosableTransport } from "../client/service_transport.ts";
import { EtcdClient } from "./etcd_client.ts";
import { type EtcdTarget, registerInstance } from "./registration.ts";
import { createResolver, type Resolver } from "./resolver.ts";

const certsDir = await ensureDevCertificates();
const serverTls = await readTlsFiles(certsDir, "product");
const clientTls = await readTlsFiles(certsDir, "gateway");

/** A caller of the sample service: a resolver of `prefix`, and a transport that must reach `product`. */
function sampleCaller(
  root: EtcdTarget,
  prefix: string,
  options: Partial<DiscoveryTransportOptions> = {},
): { resolver: Resolver; transport: ClosableTransport } {
  const resolver = createResolver({ etcd: root, prefix });
  const transport = createDiscoveryTransport({
    resolver,
    service: "sample",
    identity: "product",
    tls: clientTls,
    ...options,
  });
  return { resolver, transport };
}

/** A catalog server that names itself in `x-served-by` and counts the calls its handler ran. */
async function catalogServer(
  name: string,
  options: {
    refuseAsShuttingDown?: boolean;
    refuseAsOverloaded?: () => boolean;
    tls?: TlsFiles;
    host?: string;
  } = {},
) {
  const handled: string[] = [];
  const refusals: Interceptor[] = [];
  if (options.refuseAsShuttingDown) {
    // Stands in for the kit's drain interceptor, which refuses calls this way while a server drains.
    refusals.push(() => () => {
      throw new DomainError("unavailable", "SHUTTING_DOWN", "server is shutting down");
    });
  }
  const overloaded = options.refuseAsOverloaded;
  if (overloaded) {
    // Stands in for the server's in-flight limit (admission.ts), which refuses before any handler runs.
    refusals.push((next) => (req) => {
      if (!overloaded()) return next(req);
      throw new DomainError("resource_exhausted", "OVERLOADED", "sample is at its limit", {
        retryAfterMs: 20,
      });
    });
  }
  const server = await startServer({
    service: "sample",
    ...(options.host === undefined ? {} : { host: options.host }),
    port: 0,
    transport: { tls: options.tls ?? serverTls },
    interceptors: refusals,
    routes(router) {
      router.service(ProductService, {
        getProduct(request, context) {
          handled.push(request.id);
          context.responseHeader.set("x-served-by", name);
          if (request.id === "flaky") {
            throw new DomainError("unavailable", "DEPENDENCY_UNAVAILABLE", "the database is away");
          }
          return { product: create(ProductSchema, { id: request.id, name }) };
        },
      });
    },
  });
  return { name, server, handled };
}

async function registerAll(etcd: EtcdTarget, prefix: string, servers: RunningServer[]) {
  for (const [i, server] of servers.entries()) {
    await registerInstance(server, { etcd, service: "sample", instanceId: `s-${i}`, prefix });
  }
}

Deno.test("calls are spread over every instance, and an instance that refuses connections is skipped", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "spread" });
  const prefix = `${ns.prefix}services`;
  const a = await catalogServer("a");
  const b = await catalogServer("b");
  const etcd = new EtcdClient(ns.root);
  // An instance that died without leaving: its key is still there, its port refuses connections.
  const deadPort = freePort();
  await etcd.put(
    `${prefix}/sample/dead`,
    JSON.stringify({ service: "sample", instanceId: "dead", address: "127.0.0.1", port: deadPort }),
  );
  await registerAll(ns.root, prefix, [a.server, b.server]);
  const { resolver, transport } = sampleCaller(ns.root, prefix);
  try {
    await resolver.ready();
    assert.equal(resolver.endpoints("sample").length, 3);
    const catalog = createClient(ProductService, transport);
    const servedBy: string[] = [];
    for (let i = 0; i < 30; i++) {
      await catalog.getProduct({ id: `p-${i}` }, {
        onHeader: (headers) => servedBy.push(headers.get("x-served-by") ?? "?"),
      });
    }
    assert.equal(servedBy.length, 30, "every call succeeded");
    const count = (name: string) => servedBy.filter((s) => s === name).length;
    assert.ok(count("a") >= 10 && count("b") >= 10, `a: ${count("a")}, b: ${count("b")}`);
    assert.equal(a.handled.length + b.handled.length, 30, "no call ran twice");
  } finally {
    transport.close();
    await resolver.close();
    etcd.close();
    await a.server.shutdown();
    await b.server.shutdown();
  }
});

Deno.test("instances registered at addresses no certificate names (pod IPs) are called as their identity", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "pod-ip" });
  const prefix = `${ns.prefix}services`;
  // 127.0.0.2 and 127.0.0.3 stand in for pod IPs: the product certificate names 127.0.0.1 only.
  const a = await catalogServer("a", { host: "127.0.0.2" });
  const b = await catalogServer("b", { host: "127.0.0.3" });
  const impostor = await catalogServer("impostor", {
    host: "127.0.0.4",
    tls: await readTlsFiles(certsDir, "payment"),
  });
  await registerAll(ns.root, prefix, [a.server, b.server, impostor.server]);
  const { resolver, transport } = sampleCaller(ns.root, prefix);
  try {
    await resolver.ready();
    assert.deepEqual(
      resolver.endpoints("sample").map((endpoint) => new URL(endpoint.url).hostname).sort(),
      ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
    );
    const catalog = createClient(ProductService, transport);
    for (let i = 0; i < 12; i++) await catalog.getProduct({ id: `p-${i}` });
    assert.equal(a.handled.length + b.handled.length, 12, "every call went to a product instance");
    assert.ok(a.handled.length > 0 && b.handled.length > 0, `a: ${a.handled.length}, b: ${b.handled.length}`);
    assert.equal(impostor.handled.length, 0, "nothing went to the instance holding payment's certificate");
  } finally {
    transport.close();
    await resolver.close();
    await a.server.shutdown();
    await b.server.shutdown();
    await impostor.server.shutdown();
  }
});

Deno.test("an UNAVAILABLE from a handler is retried elsewhere only for methods declared idempotent", async () => {
  // GetProduct is declared NO_SIDE_EFFECTS in the proto, so the default transport retries it; a caller
  // that says otherwise gets one attempt.
  await using ns = await (await etcdForTests()).createNamespace({ label: "idempotent" });
  const prefix = `${ns.prefix}services`;
  const a = await catalogServer("a");
  const b = await catalogServer("b");
  await registerAll(ns.root, prefix, [a.server, b.server]);
  const resolver = createResolver({ etcd: ns.root, prefix });
  const plain = createDiscoveryTransport({
    resolver,
    service: "sample",
    identity: "product",
    tls: clientTls,
    isIdempotent: () => false,
  });
  const idempotent = createDiscoveryTransport({
    resolver,
    service: "sample",
    identity: "product",
    tls: clientTls,
  });
  try {
    await resolver.ready();
    const once = await createClient(ProductService, plain).getProduct({ id: "flaky" }).catch(
      ConnectError.from,
    );
    assert.ok(once instanceof ConnectError);
    assert.equal(once.code, Code.Unavailable);
    assert.equal(
      a.handled.length + b.handled.length,
      1,
      "declared not idempotent by the caller: one attempt",
    );

    const before = [a.handled.length, b.handled.length];
    const twice = await createClient(ProductService, idempotent).getProduct({ id: "flaky" }).catch(
      ConnectError.from,
    );
    assert.ok(twice instanceof ConnectError);
    assert.equal(
      a.handled.length + b.handled.length,
      3,
      "declared idempotent by the proto: tried on the other instance too",
    );
    assert.deepEqual([a.handled.length, b.handled.length], [(before[0] ?? 0) + 1, (before[1] ?? 0) + 1]);
  } finally {
    plain.close();
    idempotent.close();
    await resolver.close();
    await a.server.shutdown();
    await b.server.shutdown();
  }
});

Deno.test("a call refused with SHUTTING_DOWN is sent to another instance, idempotent or not", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "draining" });
  const prefix = `${ns.prefix}services`;
  const leaving = await catalogServer("leaving", { refuseAsShuttingDown: true });
  const staying = await catalogServer("staying");
  await registerAll(ns.root, prefix, [leaving.server, staying.server]);
  const { resolver, transport } = sampleCaller(ns.root, prefix);
  try {
    await resolver.ready();
    const catalog = createClient(ProductService, transport);
    for (let i = 0; i < 6; i++) {
      const { product } = await catalog.getProduct({ id: `p-${i}` });
      assert.equal(product?.name, "staying");
    }
    assert.equal(staying.handled.length, 6);
  } finally {
    transport.close();
    await resolver.close();
    await leaving.server.shutdown();
    await staying.server.shutdown();
  }
});

Deno.test("a call refused as OVERLOADED goes again after the delay, within the transport's retry budget", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "overloaded" });
  const prefix = `${ns.prefix}services`;
  // The only instance refuses every other call, as a service at its in-flight limit does now and then.
  let calls = 0;
  const busy = await catalogServer("busy", { refuseAsOverloaded: () => calls++ % 2 === 0 });
  await registerAll(ns.root, prefix, [busy.server]);
  const budget = new RetryBudget({ ratio: 0, burst: 3 });
  const { resolver, transport } = sampleCaller(ns.root, prefix, { retryBudget: budget });
  try {
    await resolver.ready();
    const catalog = createClient(ProductService, transport);
    // CreateOrder-like or not: a refused call never started, so even a non-idempotent one goes again.
    for (let i = 0; i < 3; i++) {
      const { product } = await catalog.getProduct({ id: `p-${i}` });
      assert.equal(product?.name, "busy");
    }
    assert.deepEqual(busy.handled, ["p-0", "p-1", "p-2"], "each call ran once");
    assert.equal(budget.available, 0, "each of the three retries spent from the budget");
    // The budget is spent (and this one earns none): the refusal reaches the caller instead of a retry.
    const refused = await catalog.getProduct({ id: "p-3" }).catch(ConnectError.from);
    assert.ok(refused instanceof ConnectError);
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.deepEqual(busy.handled, ["p-0", "p-1", "p-2"]);
  } finally {
    transport.close();
    await resolver.close();
    await busy.server.shutdown();
  }
});

Deno.test("a service with no registered instance fails with UNAVAILABLE naming it", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "none" });
  const resolver = createResolver({ etcd: ns.root, prefix: `${ns.prefix}services` });
  const transport = createDiscoveryTransport({ resolver, service: "payment", tls: clientTls });
  try {
    await resolver.ready();
    const error = await createClient(ProductService, transport).getProduct({ id: "p-1" }).catch(
      ConnectError.from,
    );
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.Unavailable);
    assert.match(error.rawMessage, /no endpoint of service payment to call \(none is registered\)/);
  } finally {
    transport.close();
    await resolver.close();
  }
});

Deno.test("an endpoint whose certificate names another service is never called; the real ones are", async () => {
  await using ns = await (await etcdForTests()).createNamespace({ label: "identity" });
  const prefix = `${ns.prefix}services`;
  // Registered as the service, served with a valid certificate of the shop CA that names another one.
  const impostor = await catalogServer("impostor", { tls: await readTlsFiles(certsDir, "payment") });
  const real = await catalogServer("real");
  await registerAll(ns.root, prefix, [impostor.server, real.server]);
  const { resolver, transport } = sampleCaller(ns.root, prefix);
  const onlyImpostor = createDiscoveryTransport({
    resolver,
    service: "sample",
    identity: "product",
    tls: clientTls,
    maxAttempts: 1,
  });
  try {
    await resolver.ready();
    const catalog = createClient(ProductService, transport);
    for (let i = 0; i < 10; i++) {
      const { product } = await catalog.getProduct({ id: `p-${i}` });
      assert.equal(product?.name, "real");
    }
    assert.equal(real.handled.length, 10);
    assert.equal(impostor.handled.length, 0, "nothing was sent to the impostor");

    // One attempt per call: the calls that pick the impostor fail, naming what it proved.
    const refusals = [];
    for (let i = 0; i < 6; i++) {
      const answer = await createClient(ProductService, onlyImpostor).getProduct({ id: `q-${i}` }).catch(
        ConnectError.from,
      );
      if (answer instanceof ConnectError) refusals.push(answer);
    }
    assert.ok(refusals.length > 0, "round robin picked the impostor at least once");
    for (const refusal of refusals) {
      assert.equal(refusal.code, Code.Unavailable);
      assert.match(refusal.rawMessage, /is not product: its certificate names payment/);
    }
    assert.equal(impostor.handled.length, 0, "still nothing was sent to the impostor");
  } finally {
    transport.close();
    onlyImpostor.close();
    await resolver.close();
    await impostor.server.shutdown();
    await real.server.shutdown();
  }
});
