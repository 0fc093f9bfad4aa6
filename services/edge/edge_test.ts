import assert from "node:assert/strict";
import { startBridge } from "./bridge.ts";
import { runtimeFilePath } from "../../envoy/gateway_config.ts";
import { edsDocument, endpointsFilePath, ensureEndpointFiles, writeFileAtomically } from "./eds_files.ts";
import { parseStaticEndpoints, StaticEndpointSource } from "./endpoint_source.ts";

Deno.test("static endpoints are read from service=address:port and bad entries are refused by name", () => {
  assert.deepEqual(parseStaticEndpoints(["user=127.0.0.1:50051", "order=[::1]:50053"]), [
    { service: "user", address: "127.0.0.1", port: 50051 },
    { service: "order", address: "::1", port: 50053 },
  ]);
  for (const bad of ["user=localhost:50051", "user=127.0.0.1", "user=127.0.0.1:70000", "=127.0.0.1:1"]) {
    assert.throws(() => parseStaticEndpoints([bad]), new RegExp(bad.replace(/[[\]]/g, "\\$&")));
  }
});

Deno.test("an EDS document lists only its service's endpoints, in a stable order", () => {
  const doc = edsDocument("product", [
    { service: "product", address: "127.0.0.1", port: 50060 },
    { service: "user", address: "127.0.0.1", port: 50051 },
    { service: "product", address: "127.0.0.1", port: 50052 },
  ], "7");
  assert.deepEqual(doc, {
    version_info: "7",
    resources: [{
      "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
      cluster_name: "product",
      endpoints: [{
        lb_endpoints: [50052, 50060].map((port) => ({
          endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } },
        })),
      }],
    }],
  });
});

Deno.test("the bridge rewrites every service's file on each change, atomically, leaving no temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-test-" });
  try {
    await ensureEndpointFiles(dir, ["user"]);
    const source = new StaticEndpointSource([{ service: "user", address: "127.0.0.1", port: 50051 }]);
    const bridge = await startBridge({ source, dir, services: ["user", "order"] });
    const read = async (service: string) =>
      JSON.parse(await Deno.readTextFile(endpointsFilePath(dir, service)));
    const ports = async (service: string) =>
      (await read(service)).resources[0].endpoints.flatMap((group: { lb_endpoints: unknown[] }) =>
        group.lb_endpoints.map((e) =>
          (e as { endpoint: { address: { socket_address: { port_value: number } } } })
            .endpoint.address.socket_address.port_value
        )
      );
    assert.deepEqual(await ports("user"), [50051]);
    assert.deepEqual(await ports("order"), [], "a service without instances gets an empty assignment");
    const before = (await read("user")).version_info;

    await source.set([
      { service: "user", address: "127.0.0.1", port: 50051 },
      { service: "user", address: "127.0.0.1", port: 50061 },
    ]);
    assert.deepEqual(await ports("user"), [50051, 50061]);
    assert.notEqual((await read("user")).version_info, before, "every write has a new version");
    await bridge.stop();
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["capacity.json", "order.json", "user.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the gateway's limit on a service's calls in flight is the sum of its instances' capacities", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-test-" });
  try {
    const source = new StaticEndpointSource([
      { service: "order", address: "127.0.0.1", port: 50053, capacity: 32 },
      { service: "order", address: "127.0.0.1", port: 50063, capacity: 16 },
      { service: "user", address: "127.0.0.1", port: 50051 },
    ]);
    const bridge = await startBridge({ source, dir, services: ["user", "order", "payment"] });
    const layer = async () => JSON.parse(await Deno.readTextFile(runtimeFilePath(dir))).resources[0].layer;
    // user announced no capacity and payment has no instance: their clusters keep the configured limit.
    assert.deepEqual(await layer(), { "circuit_breakers.order.default.max_requests": 48 });
    await source.set([{ service: "order", address: "127.0.0.1", port: 50053, capacity: 32 }]);
    assert.deepEqual(await layer(), { "circuit_breakers.order.default.max_requests": 32 });
    await bridge.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an atomic write replaces the file by a rename, so a reader never sees half of it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-test-" });
  try {
    const path = `${dir}/user.json`;
    await writeFileAtomically(path, "old");
    const inode = (await Deno.stat(path)).ino;
    await writeFileAtomically(path, "new");
    assert.equal(await Deno.readTextFile(path), "new");
    assert.notEqual((await Deno.stat(path)).ino, inode, "a new file was moved into place");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the gateway's empty endpoint files never replace one the bridge has written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-test-" });
  try {
    const written = JSON.stringify(
      edsDocument("user", [{ service: "user", address: "127.0.0.1", port: 50051 }], "7"),
    );
    await writeFileAtomically(endpointsFilePath(dir, "user"), written);
    await ensureEndpointFiles(dir, ["user", "order"]);
    assert.equal(await Deno.readTextFile(endpointsFilePath(dir, "user")), written);
    assert.equal(JSON.parse(await Deno.readTextFile(endpointsFilePath(dir, "order"))).version_info, "0");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["capacity.json", "order.json", "user.json"], "no temporary file is left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
