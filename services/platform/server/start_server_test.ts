import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BadRequestSchema, ErrorInfoSchema } from "@shop/proto/google";
import { InventoryService, ProductSchema, ProductService } from "@shop/proto/product";
import { createServiceTransport } from "../client/service_transport.ts";
import { DomainError } from "../errors/domain_error.ts";
import { setupLogging, withRequestId } from "../log/logging.ts";
import { ensureDevCertificates, readTlsFiles, type TlsFiles } from "../tls/tls_files.ts";
import { type RunningServer, startServer } from "./start_server.ts";
import { failure } from "../testing/failure.ts";

const certsDir = await ensureDevCertificates();
const logLines: Array<Record<string, unknown>> = [];
await setupLogging({
  service: "test",
  instance: "test-1",
  level: "debug",
  write: (line) => logLines.push(JSON.parse(line)),
});

const orderId = "0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60";

async function startCatalog(): Promise<RunningServer> {
  return await startServer({
    service: "catalog-test",
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "product") },
    allowedPeers: { [InventoryService.typeName]: ["order"] },
    routes(router) {
      router.service(ProductService, {
        getProduct(request) {
          if (request.id === "boom") throw new Error("connection string postgres://shop:hunter2@db failed");
          if (request.id === "gone") {
            throw new DomainError("not_found", "NOT_FOUND", "product gone not found", {
              metadata: { id: "gone" },
            });
          }
          return { product: create(ProductSchema, { id: request.id, name: "Kettle", stock: 0 }) };
        },
      });
      router.service(InventoryService, {
        reserveStock: (request) => ({ reservation: { orderId: request.orderId } }),
      });
    },
  });
}

async function clientAs(server: RunningServer, identity: string) {
  const tls: TlsFiles = await readTlsFiles(certsDir, identity);
  const transport = createServiceTransport({ baseUrl: server.url, tls, defaultTimeoutMs: 5_000 });
  return {
    catalog: createClient(ProductService, transport),
    inventory: createClient(InventoryService, transport),
  };
}

Deno.test("startServer() serves over mTLS and answers a client with a shop certificate", async () => {
  const server = await startCatalog();
  try {
    const { catalog } = await clientAs(server, "gateway");
    const { product } = await catalog.getProduct({ id: "p-1" });
    assert.equal(product?.name, "Kettle");
  } finally {
    await server.shutdown();
  }
});

Deno.test("startServer() refuses a client without a certificate", async () => {
  const server = await startCatalog();
  try {
    const tls = await readTlsFiles(certsDir, "client");
    // Trusts the server's CA but presents no certificate of its own.
    const httpClient = Deno.createHttpClient({ caCerts: [tls.ca] });
    try {
      const transport = createConnectTransport({
        baseUrl: server.url,
        fetch: (input, init) => fetch(input, { ...init, client: httpClient }),
      });
      const error = await failure(createClient(ProductService, transport).getProduct({ id: "p-1" }));
      assert.match(error.message, /certificate|handshake|connection|fetch failed/i);
    } finally {
      httpClient.close();
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("an internal-only service refuses a peer with the wrong identity and serves the right one", async () => {
  const server = await startCatalog();
  try {
    const asUser = await clientAs(server, "user");
    const denied = await failure(
      asUser.inventory.reserveStock({ orderId, items: [{ productId: "p-1", quantity: 1 }] }),
    );
    assert.equal(denied.code, Code.PermissionDenied);
    assert.equal(denied.findDetails(ErrorInfoSchema)[0]?.reason, "PERMISSION_DENIED");

    const asOrder = await clientAs(server, "order");
    const { reservation } = await asOrder.inventory.reserveStock({
      orderId,
      items: [{ productId: "p-1", quantity: 1 }],
    });
    assert.equal(reservation?.orderId, orderId);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a request that breaks a protovalidate rule gets INVALID_ARGUMENT naming the field", async () => {
  const server = await startCatalog();
  try {
    const { inventory } = await clientAs(server, "order");
    const error = await failure(inventory.reserveStock({ orderId: "not-a-uuid", items: [] }));
    assert.equal(error.code, Code.InvalidArgument);
    const violations = error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field).sort();
    assert.deepEqual(violations, ["items", "order_id"]);
    assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, "INVALID_ARGUMENT");
  } finally {
    await server.shutdown();
  }
});

Deno.test("a domain error keeps its code, reason and metadata", async () => {
  const server = await startCatalog();
  try {
    const { catalog } = await clientAs(server, "gateway");
    const error = await failure(catalog.getProduct({ id: "gone" }));
    assert.equal(error.code, Code.NotFound);
    const info = error.findDetails(ErrorInfoSchema)[0];
    assert.deepEqual([info?.reason, info?.domain, info?.metadata.id], ["NOT_FOUND", "shop.example", "gone"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("an unexpected error becomes INTERNAL with its cause in the log, not in the response", async () => {
  const server = await startCatalog();
  try {
    const { catalog } = await clientAs(server, "gateway");
    const error = await withRequestId("req-boom-1", () => failure(catalog.getProduct({ id: "boom" })));
    assert.equal(error.code, Code.Internal);
    assert.equal(error.rawMessage, "internal error (request id req-boom-1)");
    assert.ok(!JSON.stringify(error.details).includes("hunter2"));
    const logged = logLines.find((line) => line.request_id === "req-boom-1" && line.level === "error");
    assert.ok(logged, "the failure is logged under the caller's request id");
    assert.match(JSON.stringify(logged.error), /hunter2@db failed/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the request id travels from caller to callee and back", async () => {
  const server = await startCatalog();
  try {
    const { catalog } = await clientAs(server, "gateway");
    let echoed: string | null = null;
    await withRequestId(
      "req-trace-7",
      () =>
        catalog.getProduct({ id: "p-1" }, { onHeader: (headers) => echoed = headers.get("x-request-id") }),
    );
    assert.equal(echoed, "req-trace-7");
  } finally {
    await server.shutdown();
  }
});

Deno.test("/metrics counts RPCs by method and code", async () => {
  const server = await startCatalog();
  try {
    const { catalog } = await clientAs(server, "prometheus");
    await catalog.getProduct({ id: "p-1" });
    await failure(catalog.getProduct({ id: "gone" }));
    const text = await server.metrics.registry.metrics();
    assert.match(
      text,
      /grpc_server_handled_total\{[^}]*grpc_method="GetProduct"[^}]*grpc_code="OK"[^}]*\} 1/,
    );
    assert.match(
      text,
      /grpc_server_handled_total\{[^}]*grpc_method="GetProduct"[^}]*grpc_code="NOT_FOUND"[^}]*\} 1/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("a request larger than the size limit is refused", async () => {
  const tls = await readTlsFiles(certsDir, "product");
  const server = await startServer({
    service: "limit-test",
    port: 0,
    transport: { tls },
    maxRequestBytes: 1024,
    routes: (router) => router.service(ProductService, { getProduct: (r) => ({ product: { id: r.id } }) }),
  });
  try {
    const { catalog } = await clientAs(server, "gateway");
    const error = await failure(catalog.getProduct({ id: "x".repeat(4096) }));
    assert.equal(error.code, Code.ResourceExhausted);
  } finally {
    await server.shutdown();
  }
});
