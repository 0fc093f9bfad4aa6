import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@shop/proto/google";
import { Health, HealthCheckResponse_ServingStatus } from "@shop/proto/grpc";
import { ProductService } from "@shop/proto/product";
import { createServiceTransport } from "../client/service_transport.ts";
import { eventually } from "../testing/eventually.ts";
import { startServiceProcess } from "../testing/service_process.ts";
import { toolPath } from "../testing/tools.ts";
import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";

const certsDir = await ensureDevCertificates();
const sampleService = new URL("../testdata/sample_service.ts", import.meta.url);

Deno.test("a service past its in-flight limit refuses at once with RESOURCE_EXHAUSTED while admitted calls complete", async () => {
  await using sample = await startServiceProcess(sampleService, {
    env: { SHOP_SAMPLE_CERTS_DIR: certsDir, SHOP_SAMPLE_SERVER_MAX_IN_FLIGHT: "2" },
  });
  const transport = createServiceTransport({
    baseUrl: sample.url,
    tls: await readTlsFiles(certsDir, "gateway"),
    defaultTimeoutMs: 60_000,
  });
  const scraper = await readTlsFiles(certsDir, "prometheus");
  const metricsClient = Deno.createHttpClient({
    caCerts: [scraper.ca],
    cert: scraper.cert,
    key: scraper.key,
  });
  try {
    const catalog = createClient(ProductService, transport);
    const metric = async (name: string) => {
      const text = await (await fetch(`${sample.url}/metrics`, { client: metricsClient })).text();
      return text.split("\n").filter((line) => line.startsWith(name))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
    };

    // Two slow calls take both places (10 s each: ample for what follows on a busy machine).
    const admitted = Promise.allSettled([
      catalog.getProduct({ id: "slow-10000" }),
      catalog.getProduct({ id: "slow-10000" }),
    ]);
    await eventually(
      "both slow calls are in flight",
      async () => await metric("grpc_server_in_flight{") === 2,
    );

    const refused = await catalog.getProduct({ id: "p-1" }).then(
      () => undefined,
      (error) => ConnectError.from(error),
    );
    assert.equal(refused?.code, Code.ResourceExhausted);
    assert.equal(refused?.findDetails(ErrorInfoSchema)[0]?.reason, "OVERLOADED");
    assert.ok(refused?.findDetails(RetryInfoSchema)[0]?.retryDelay, "a RetryInfo says when to try again");

    // The same refusal in native gRPC (trailers-only), as Envoy and grpc clients see it.
    const grpcurl = await new Deno.Command(toolPath("grpcurl", "grpcurl"), {
      args: [
        ...[
          "-cacert",
          `${certsDir}/ca.crt`,
          "-cert",
          `${certsDir}/gateway.crt`,
          "-key",
          `${certsDir}/gateway.key`,
        ],
        ...["-d", '{"id":"p-2"}', `127.0.0.1:${sample.port}`, "shop.product.v1.ProductService/GetProduct"],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const grpcAnswer = new TextDecoder().decode(grpcurl.stderr) + new TextDecoder().decode(grpcurl.stdout);
    assert.match(grpcAnswer, /Code: ResourceExhausted/);

    // Health and metrics are never refused, however busy the service is.
    const health = await createClient(Health, transport).check({ service: "" });
    assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
    assert.ok(await metric("grpc_server_shed_total") >= 2, "the refusals are counted");
    assert.equal(await metric("grpc_server_in_flight{"), 2, "all of this happened while both slow calls ran");

    const results = await admitted;
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled"]);
    // With the places free again, the next call is served.
    assert.equal((await catalog.getProduct({ id: "p-3" })).product?.id, "p-3");
  } finally {
    metricsClient.close();
    transport.close();
  }
});
