import assert from "node:assert/strict";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ProductService } from "@shop/proto/product";
import { startServer } from "../server/start_server.ts";
import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";
import { peerIdentityCheck, PeerIdentityError, probePeerIdentity } from "./peer_identity.ts";

const certsDir = await ensureDevCertificates();
const callerTls = await readTlsFiles(certsDir, "order");

Deno.test("the probe reads the identity the server proves in its handshake", async () => {
  const server = await startServer({
    service: "probe-target",
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "payment") },
    routes: () => {},
  });
  try {
    assert.equal(await probePeerIdentity(server.url, callerTls), "payment");
  } finally {
    await server.shutdown();
  }
  await assert.rejects(probePeerIdentity(server.url, callerTls), "a closed port is no verdict");
});

Deno.test("the probe checks the name of the service meant, not the address it dials", async () => {
  const server = await startServer({
    service: "probe-target",
    host: "127.0.0.2", // in no certificate, as a pod IP
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "payment") },
    routes: () => {},
  });
  try {
    assert.equal(await probePeerIdentity(server.url, callerTls, { serverName: "payment" }), "payment");
    await assert.rejects(
      probePeerIdentity(server.url, callerTls, { serverName: "product" }),
      (error) =>
        error instanceof PeerIdentityError &&
        /is not product: its certificate names payment/.test(error.message),
    );
    await assert.rejects(
      probePeerIdentity(server.url, callerTls),
      /127\.0\.0\.2/,
      "the address alone is no name",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("a verdict is cached, a refusal names both identities, and a failed probe is tried again", async () => {
  const presented: (string | undefined | Error)[] = [
    "payment",
    "product",
    new Error("ECONNREFUSED"),
    "payment",
  ];
  let probes = 0;
  const transport = createRouterTransport(({ service }) => {
    service(ProductService, { getProduct: () => ({}) });
  }, {
    transport: {
      interceptors: [peerIdentityCheck({
        url: "https://127.0.0.1:1",
        identity: "payment",
        tls: callerTls,
        recheckMs: 0,
        probe: () => {
          const next = presented[probes++];
          return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
        },
      })],
    },
  });
  const client = createClient(ProductService, transport);
  await client.getProduct({ id: "1" });
  const refused = await client.getProduct({ id: "2" }).catch(ConnectError.from);
  assert.ok(refused instanceof ConnectError);
  assert.equal(refused.code, Code.Unavailable);
  assert.match(refused.rawMessage, /is not payment: its certificate names product/);
  assert.ok(refused.cause instanceof PeerIdentityError);
  const unreachable = await client.getProduct({ id: "3" }).catch(ConnectError.from);
  assert.ok(unreachable instanceof ConnectError && unreachable.cause instanceof PeerIdentityError);
  await client.getProduct({ id: "4" });
  assert.equal(probes, 4, "recheckMs 0: every call probes");

  let cachedProbes = 0;
  const cached = createClient(
    ProductService,
    createRouterTransport(({ service }) => void service(ProductService, { getProduct: () => ({}) }), {
      transport: {
        interceptors: [peerIdentityCheck({
          url: "https://127.0.0.1:1",
          identity: "payment",
          tls: callerTls,
          probe: () => {
            cachedProbes++;
            return Promise.resolve("payment");
          },
        })],
      },
    }),
  );
  await Promise.all([1, 2, 3].map((id) => cached.getProduct({ id: `${id}` })));
  await cached.getProduct({ id: "4" });
  assert.equal(cachedProbes, 1, "one probe for many calls within recheckMs");
});

Deno.test("a warm check probes before the first call, and a verdict is renewed before it runs out", async () => {
  let probes = 0;
  const interceptor = peerIdentityCheck({
    url: "https://127.0.0.1:1",
    identity: "payment",
    tls: callerTls,
    recheckMs: 400,
    warm: true,
    probe: () => {
      probes++;
      return Promise.resolve("payment");
    },
  });
  assert.equal(probes, 1, "probed as soon as it was made");
  const client = createClient(
    ProductService,
    createRouterTransport(({ service }) => void service(ProductService, { getProduct: () => ({}) }), {
      transport: { interceptors: [interceptor] },
    }),
  );
  await client.getProduct({ id: "1" });
  assert.equal(probes, 1, "the first call used the warm verdict");
  await new Promise((resolve) => setTimeout(resolve, 250));
  await client.getProduct({ id: "2" });
  assert.equal(probes, 2, "past half of recheckMs a call starts a new probe (in the background, or itself)");
});
