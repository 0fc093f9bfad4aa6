import assert from "node:assert/strict";
import { startServiceProcess } from "../testing/service_process.ts";
import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";

const certsDir = await ensureDevCertificates();
const sampleService = new URL("../testdata/sample_service.ts", import.meta.url);

Deno.test("a service survives clients that close their HTTP/2 connection after hundreds of calls", async () => {
  // Without deferSessionDestroy, Deno 2.9.6 aborts in nghttp2 at the first such GOAWAY (stress/README.md).
  await using sample = await startServiceProcess(sampleService, {
    // Above the burst: this test is about connections, not the in-flight limit.
    env: { SHOP_SAMPLE_CERTS_DIR: certsDir, SHOP_SAMPLE_SERVER_MAX_IN_FLIGHT: "1000" },
  });
  const tls = await readTlsFiles(certsDir, "gateway");
  const call = (client: Deno.HttpClient) =>
    fetch(`${sample.url}/shop.product.v1.ProductService/GetProduct`, {
      method: "POST",
      client,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "slow-5" }),
    }).then((response) => response.status);
  for (let connection = 0; connection < 3; connection++) {
    const client = Deno.createHttpClient({ caCerts: [tls.ca], cert: tls.cert, key: tls.key });
    const statuses = await Promise.all(Array.from({ length: 250 }, () => call(client)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    client.close();
  }
  const exited = await Promise.race([
    sample.child.status.then((status) => `exited: code ${status.code}, signal ${status.signal}`),
    new Promise<string>((resolve) => setTimeout(() => resolve("running"), 1_000)),
  ]);
  assert.equal(exited, "running", `the service died: ${sample.stderr()}`);
  const fresh = Deno.createHttpClient({ caCerts: [tls.ca], cert: tls.cert, key: tls.key });
  try {
    assert.equal(await call(fresh), 200);
  } finally {
    fresh.close();
  }
});
