import assert from "node:assert/strict";
import { createSecureServer } from "node:http2";
import { freePort } from "../testing/net.ts";
import { ensureDevCertificates, readTlsFiles, type TlsFiles } from "../tls/tls_files.ts";
import { openEndpointTunnel } from "./endpoint_tunnel.ts";

const certsDir = await ensureDevCertificates();
const callerTls = await readTlsFiles(certsDir, "order");

/** An mTLS HTTP/2 server (on 127.0.0.2 unless told: named by no certificate) that answers with the SNI it got. */
async function serverAt(tls: TlsFiles, host = "127.0.0.2") {
  const server = createSecureServer({
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca,
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on("request", (request, response) => {
    // node's TLSSocket has `servername` (the SNI the client sent); its type declarations lack it.
    response.end(`sni=${(request.socket as { servername?: string }).servername}`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return {
    port: address.port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** GET `https://<name>:<port>/` through a tunnel to 127.0.0.2:<port>, with the caller's certificate. */
async function getThroughTunnel(
  name: string,
  port: number,
  authority = `${name}:${port}`,
  hostname = "127.0.0.2",
) {
  const tunnel = openEndpointTunnel({ hostname, port, authority });
  const client = Deno.createHttpClient({
    ...callerTls,
    caCerts: [callerTls.ca],
    proxy: { url: tunnel.proxyUrl },
  });
  try {
    const response = await fetch(`https://${name}:${port}/`, { client });
    return await response.text();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    client.close();
    tunnel.close();
  }
}

function reason(error: Error): string {
  return `${error.message}: ${error.cause instanceof Error ? error.cause.message : ""}`;
}

Deno.test("fetch through the tunnel verifies the service's name, not the address it dials", async () => {
  await using product = await serverAt(await readTlsFiles(certsDir, "product"));
  assert.equal(await getThroughTunnel("product", product.port), "sni=product");
});

Deno.test("the connection itself refuses a certificate of another identity or another CA", async () => {
  await using payment = await serverAt(await readTlsFiles(certsDir, "payment"));
  const impostor = await getThroughTunnel("product", payment.port);
  assert.ok(impostor instanceof Error);
  assert.match(reason(impostor), /not valid for name "product"/);

  const otherDir = await Deno.makeTempDir({ prefix: "shop-other-ca-" });
  try {
    // Another CA of the same name (scripts/certs elsewhere): its signature does not verify.
    const foreignTls = await readTlsFiles(await ensureDevCertificates(otherDir), "product");
    await using foreign = await serverAt({ ...foreignTls, ca: callerTls.ca });
    const refused = await getThroughTunnel("product", foreign.port);
    assert.ok(refused instanceof Error);
    assert.match(reason(refused), /invalid peer certificate: (UnknownIssuer|BadSignature)/);
  } finally {
    await Deno.remove(otherDir, { recursive: true });
  }
});

Deno.test("the tunnel goes only to its endpoint, as the identity it was made for", async () => {
  await using product = await serverAt(await readTlsFiles(certsDir, "product"));
  const elsewhere = await getThroughTunnel("product", product.port, `payment:${product.port}`);
  assert.ok(elsewhere instanceof Error);
  assert.match(reason(elsewhere), /unsuccessful tunnel/);
});

Deno.test("an IPv6 endpoint, bracketed as in its URL, is reached the same way", async () => {
  await using product = await serverAt(await readTlsFiles(certsDir, "product"), "::1");
  assert.equal(await getThroughTunnel("product", product.port, undefined, "[::1]"), "sni=product");
});

Deno.test("an endpoint that refuses the connection fails the call as a connection failure", async () => {
  const port = freePort();
  const refused = await getThroughTunnel("product", port);
  assert.ok(refused instanceof Error);
  // What neverReachedServer (discovery) counts as a call never sent: safe to try another instance.
  assert.match(reason(refused), /client error \(Connect\): unsuccessful tunnel/);
});
