import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ProductSchema, ProductService } from "@shop/proto/product";
import { startServer } from "../server/start_server.ts";
import { ensureDevCertificates, readTlsFiles, type TlsFiles } from "../tls/tls_files.ts";
import { createServiceTransport } from "./service_transport.ts";

const certsDir = await ensureDevCertificates();
const callerTls = await readTlsFiles(certsDir, "order");
/** An address of this machine that no shop certificate names, as a pod IP is named by none. */
const podAddress = "127.0.0.2";

/** A catalog server on `podAddress` with the given certificate, counting the calls its handler ran. */
async function catalogAt(tls: TlsFiles) {
  const handled: string[] = [];
  const server = await startServer({
    service: "product",
    host: podAddress,
    port: 0,
    transport: { tls },
    routes(router) {
      router.service(ProductService, {
        getProduct(request) {
          handled.push(request.id);
          return { product: create(ProductSchema, { id: request.id, name: "Mug" }) };
        },
      });
    },
  });
  return { server, handled, [Symbol.asyncDispose]: () => server.shutdown() };
}

async function call(baseUrl: string, identity?: string) {
  const transport = createServiceTransport({
    baseUrl,
    tls: callerTls,
    defaultTimeoutMs: 5_000,
    ...(identity === undefined ? {} : { identity }),
  });
  try {
    return await createClient(ProductService, transport).getProduct({ id: "p-1" }).catch(ConnectError.from);
  } finally {
    transport.close();
  }
}

Deno.test("a service is called at an address its certificate does not name, verified by its identity", async () => {
  const productTls = await readTlsFiles(certsDir, "product");
  const sans = new X509Certificate(productTls.cert).subjectAltName ?? "";
  assert.ok(!sans.includes(podAddress), `the certificate does not name ${podAddress}: ${sans}`);
  assert.match(sans, /DNS:product\b/, "it names its identity as a DNS SAN");
  await using catalog = await catalogAt(productTls);
  assert.ok(catalog.server.url.includes(podAddress));

  const answer = await call(catalog.server.url, "product");
  assert.ok(!(answer instanceof ConnectError), `the call went through: ${answer}`);
  assert.equal(answer.product?.name, "Mug");

  // Checked against the address instead (no identity), the same certificate is refused.
  const byAddress = await call(catalog.server.url);
  assert.ok(byAddress instanceof ConnectError);
  assert.equal(byAddress.code, Code.Unavailable);
  assert.match(byAddress.rawMessage, /not valid for name "127\.0\.0\.2"/);
  assert.deepEqual(catalog.handled, ["p-1"], "only the verified call ran");
});

Deno.test("a server with another identity's certificate at that address is never sent a call", async () => {
  await using impostor = await catalogAt(await readTlsFiles(certsDir, "payment"));
  const answer = await call(impostor.server.url, "product");
  assert.ok(answer instanceof ConnectError);
  assert.equal(answer.code, Code.Unavailable);
  assert.match(answer.rawMessage, /is not product: its certificate names payment/);
  assert.deepEqual(impostor.handled, [], "nothing reached the handler");
});

Deno.test("a certificate of the right name from another CA is refused", async () => {
  const otherDir = await Deno.makeTempDir({ prefix: "shop-other-ca-" });
  try {
    // scripts/certs in another directory: another CA, a certificate named product.
    const foreignTls = await readTlsFiles(await ensureDevCertificates(otherDir), "product");
    assert.notEqual(foreignTls.ca, callerTls.ca);
    await using foreign = await catalogAt({ ...foreignTls, ca: callerTls.ca });
    const answer = await call(foreign.server.url, "product");
    assert.ok(answer instanceof ConnectError);
    assert.equal(answer.code, Code.Unavailable);
    assert.match(answer.rawMessage, /certificate|issuer/i);
    assert.deepEqual(foreign.handled, [], "nothing reached the handler");
  } finally {
    await Deno.remove(join(otherDir), { recursive: true });
  }
});
