import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ProductService } from "@shop/proto/product";
import { createServiceTransport } from "../client/service_transport.ts";
import { startServiceProcess } from "../testing/service_process.ts";
import { toolPath } from "../testing/tools.ts";
import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";

const certsDir = await ensureDevCertificates();
const grpcJsClient = new URL("../grpc/testdata/grpc_js_health_client.cjs", import.meta.url).pathname;

const env = { SHOP_SAMPLE_CERTS_DIR: certsDir };
const sampleService = new URL("../testdata/sample_service.ts", import.meta.url);
const startSampleProcess = (environment: Record<string, string>) =>
  startServiceProcess(sampleService, { env: environment });

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", { args: ["-sS", "--max-time", "10", ...args] }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("a kit-built service process answers a Connect JSON call from curl with a client certificate", async () => {
  const sample = await startSampleProcess(env);
  try {
    const url = `https://127.0.0.1:${sample.port}/shop.product.v1.ProductService/GetProduct`;
    const common = [
      "--cacert",
      `${certsDir}/ca.crt`,
      "-H",
      "content-type: application/json",
      "-d",
      '{"id":"p-1"}',
    ];
    const withCert = await curl([
      ...common,
      "--cert",
      `${certsDir}/client.crt`,
      "--key",
      `${certsDir}/client.key`,
      url,
    ]);
    assert.equal(withCert.code, 0, withCert.stderr);
    const body = JSON.parse(withCert.stdout);
    assert.deepEqual(body.product.price, { currencyCode: "USD", amountMinor: "1999" });

    const withoutCert = await curl([...common, url]);
    assert.notEqual(withoutCert.code, 0, "a client without a certificate must be refused");
    // The TLS handshake fails (curl reports the alert or the closed connection, depending on timing).
    assert.equal(withoutCert.stdout, "", "nothing is answered without a certificate");
  } finally {
    await sample.kill();
  }
});

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("a grpc-js client in Node checks the health of a kit-built service over mTLS", async () => {
  const sample = await startSampleProcess(env);
  try {
    const tlsEnv = {
      SHOP_GRPC_CA: `${certsDir}/ca.crt`,
      SHOP_GRPC_CERT: `${certsDir}/client.crt`,
      SHOP_GRPC_KEY: `${certsDir}/client.key`,
    };
    const address = `localhost:${sample.port}`;
    const services = ["", "shop.product.v1.ProductService", "shop.product.v1.InventoryService"];
    const checked = await run("node", [grpcJsClient, "check", address, ...services], tlsEnv);
    assert.equal(checked.code, 0, checked.stderr);
    assert.deepEqual(checked.stdout.trim().split("\n").map((line) => JSON.parse(line)), [
      { service: "", status: "SERVING" },
      { service: "shop.product.v1.ProductService", status: "SERVING" },
      { service: "shop.product.v1.InventoryService", status: "SERVING" },
    ]);
    // Without a client certificate the same check never gets an answer.
    const anonymous = await run("node", [grpcJsClient, "check", address, ""], {
      SHOP_GRPC_CA: tlsEnv.SHOP_GRPC_CA,
    });
    assert.equal(JSON.parse(anonymous.stdout.trim()).code, 14, "UNAVAILABLE: the handshake is refused");
  } finally {
    await sample.kill();
  }
});

Deno.test("grpcurl lists a kit-built service's services by reflection over mTLS", async () => {
  const grpcurl = toolPath("grpcurl", "grpcurl");
  const sample = await startSampleProcess(env);
  try {
    const tlsArgs = [
      "-cacert",
      `${certsDir}/ca.crt`,
      "-cert",
      `${certsDir}/client.crt`,
      "-key",
      `${certsDir}/client.key`,
    ];
    const listed = await run(grpcurl, [...tlsArgs, `127.0.0.1:${sample.port}`, "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split("\n").sort(), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "shop.product.v1.InventoryService",
      "shop.product.v1.ProductService",
    ]);
    const called = await run(grpcurl, [
      ...tlsArgs,
      "-d",
      '{"id":"p-9"}',
      `127.0.0.1:${sample.port}`,
      "shop.product.v1.ProductService/GetProduct",
    ]);
    assert.equal(called.code, 0, called.stderr);
    assert.equal(JSON.parse(called.stdout).product.id, "p-9");
  } finally {
    await sample.kill();
  }
});

Deno.test("SIGTERM during a slow call: the call completes, new calls are refused, the process exits 0", async () => {
  const sample = await startSampleProcess(env);
  try {
    const tls = await readTlsFiles(certsDir, "gateway");
    const catalog = createClient(
      ProductService,
      createServiceTransport({ baseUrl: `https://127.0.0.1:${sample.port}`, tls, defaultTimeoutMs: 10_000 }),
    );
    const slow = catalog.getProduct({ id: "slow-1500" });
    // Let the slow call reach the handler before the signal.
    await new Promise((resolve) => setTimeout(resolve, 400));
    sample.signal("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 200));

    // A new connection after SIGTERM is refused.
    const freshTransport = createServiceTransport({
      baseUrl: `https://127.0.0.1:${sample.port}`,
      tls,
      defaultTimeoutMs: 3_000,
    });
    const refused = await createClient(ProductService, freshTransport).getProduct({ id: "p-2" }).then(
      () => undefined,
      (error) => ConnectError.from(error),
    );
    assert.ok(refused, "a call made after SIGTERM must not be served");
    assert.equal(refused.code, Code.Unavailable);

    const { product } = await slow;
    assert.equal(product?.id, "slow-1500");
    const status = await sample.child.status;
    assert.equal(status.code, 0);
    assert.ok(sample.logs.some((line) => line.message === "Stopped"));
  } finally {
    await sample.kill();
  }
});

Deno.test("a bad config value stops start-up with one line naming the key", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", new URL("../testdata/sample_service.ts", import.meta.url).pathname],
    env: { ...env, SHOP_SAMPLE_SERVER_PORT: "99999", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assert.equal(
    stderr,
    'config: server.port: expected an integer from 0 to 65535, got "99999" from SHOP_SAMPLE_SERVER_PORT',
  );
});
