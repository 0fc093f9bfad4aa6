import assert from "node:assert/strict";
import { ensureDevCertificates } from "@shop/platform/tls";
import { adminRequest, envoyBinary, freePort, ProcessGroup, startEnvoy } from "@shop/platform/testing";
import { InventoryService } from "@shop/proto/product";
import { PaymentProcessorService } from "@shop/proto/payment";
import { defaultGatewaySettings, gatewayConfig, methodPolicies, publicServices } from "./gateway_config.ts";
import { writeGatewayConfig } from "./render_config.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

async function validate(path: string): Promise<{ success: boolean; output: string }> {
  const out = await new Deno.Command(envoyBinary(), {
    args: ["--mode", "validate", "-c", path, "--use-dynamic-base-id"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { success: out.success, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** Runs the renderer as a program into `dir/envoy.json` (endpoint files in `dir/eds`) with `env`. */
function render(dir: string, env: Record<string, string>): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${root}/envoy/render_config.ts`,
      `--out=${dir}/envoy.json`,
      `--endpoints.dir=${dir}/eds`,
    ],
    env: { NO_COLOR: "1", ...env },
    stderr: "piped",
  }).output();
}

type Route = { name: string; match: { path?: string; prefix?: string }; typed_per_filter_config?: object };

function routesOf(config: Record<string, unknown>): Route[] {
  // deno-lint-ignore no-explicit-any -- walking the rendered JSON
  const listener = (config as any).static_resources.listeners[0];
  return listener.filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
}

Deno.test("the rendered configuration passes envoy --mode validate, with its EDS files in place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gateway-render-" });
  try {
    const settings = defaultGatewaySettings(
      `${root}/certs/dev`,
      `${dir}/endpoints`,
      `${root}/proto/gen/shop.binpb`,
    );
    await writeGatewayConfig(settings, `${dir}/envoy.json`);
    const { success, output } = await validate(`${dir}/envoy.json`);
    assert.ok(success, output);
    assert.match(output, /OK/);
    for (const service of ["user", "product", "order", "payment"]) {
      await Deno.stat(`${dir}/endpoints/${service}.json`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the renderer reads SHOP_GATEWAY_PORT and limits from the environment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gateway-render-" });
  try {
    const out = await render(dir, { SHOP_GATEWAY_PORT: "9443", SHOP_GATEWAY_LIMITS_SIGN_IN_RATE: "7" });
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const text = await Deno.readTextFile(`${dir}/envoy.json`);
    const config = JSON.parse(text);
    assert.equal(config.static_resources.listeners[0].address.socket_address.port_value, 9443);
    assert.match(text, /"tokens_per_fill": 7/);
    assert.equal(config.admin.address.socket_address, undefined, "the admin API is on no TCP port");
    assert.equal(config.admin.address.pipe.mode, 0o600, "the admin socket is Envoy's user's only");

    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}/envoy/render_config.ts`, `--out=${dir}/x.json`],
      env: { SHOP_GATEWAY_PORT: "99999", NO_COLOR: "1" },
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /port/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every public method has its own route and rule; internal services have none", () => {
  const config = gatewayConfig(defaultGatewaySettings("/c", "/e", "/d"));
  const routes = routesOf(config);
  const methodRoutes = routes.filter((r) => r.match.path?.startsWith("/shop."));
  const publicMethods = publicServices.flatMap(({ service }) =>
    service.methods.map((m) => `/${service.typeName}/${m.name}`)
  );
  assert.deepEqual(methodRoutes.map((r) => r.match.path).sort(), publicMethods.sort());
  for (const internal of [InventoryService, PaymentProcessorService]) {
    assert.ok(!JSON.stringify(config).includes(internal.typeName), `${internal.typeName} is never routed`);
  }
  // Every route says what jwt_authn does on it: nothing is left to chance.
  for (const route of routes) {
    assert.ok(
      route.typed_per_filter_config && "envoy.filters.http.jwt_authn" in route.typed_per_filter_config,
      route.name,
    );
  }
  assert.deepEqual(
    methodPolicies().filter((m) => m.access === "admin").map((m) => m.path).sort(),
    [
      "/shop.order.v1.OrderService/UpdateOrderStatus",
      "/shop.payment.v1.PaymentService/RefundPayment",
      "/shop.product.v1.ProductService/CreateProduct",
      "/shop.product.v1.ProductService/DeleteProduct",
      "/shop.product.v1.ProductService/UpdateProduct",
      "/shop.user.v1.UserService/ListUsers",
      "/shop.user.v1.UserService/SetUserRole",
    ],
  );
  assert.deepEqual(
    methodPolicies().filter((m) => m.access === "public").map((m) => m.path).sort(),
    [
      "/shop.product.v1.ProductService/GetProduct",
      "/shop.product.v1.ProductService/ListProducts",
      "/shop.user.v1.AuthService/Login",
      "/shop.user.v1.AuthService/RefreshToken",
      "/shop.user.v1.UserService/RegisterUser",
    ],
  );
  const last = routes.at(-1);
  assert.deepEqual(last?.match, { prefix: "/" }, "the catch-all 404 comes last");
});

Deno.test("tokens come from the Authorization header only, with exp; the sign-in limit is on its routes", () => {
  const settings = defaultGatewaySettings("/c", "/e", "/d");
  const config = gatewayConfig(settings);
  // deno-lint-ignore no-explicit-any -- walking the rendered JSON
  const hcm = (config as any).static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  // deno-lint-ignore no-explicit-any -- walking the rendered JSON
  const jwt = hcm.http_filters.find((f: any) => f.name === "envoy.filters.http.jwt_authn").typed_config;
  const provider = jwt.providers.shop;
  assert.deepEqual(provider.from_headers, [{ name: "authorization", value_prefix: "Bearer " }]);
  assert.equal(provider.from_params, undefined, "never from a query parameter");
  assert.equal(provider.require_expiration, true);
  assert.equal(provider.max_lifetime, `${settings.jwt.maxLifetimeSeconds}s`);
  assert.ok(!JSON.stringify(hcm.access_log).includes("%REQ(:PATH)%"), "no path with its query in the log");

  const limited = routesOf(config).filter((r) =>
    r.typed_per_filter_config !== undefined && "shop.ratelimit.sign_in" in r.typed_per_filter_config
  );
  assert.deepEqual(limited.map((r) => r.match.path).sort(), [
    "/shop.user.v1.AuthService/Login",
    "/shop.user.v1.UserService/RegisterUser",
  ]);
  const openapi = routesOf(config).find((r) => r.match.path === "/openapi.json");
  assert.ok(openapi, "GET /openapi.json is served");
});

Deno.test("the admin API is a socket only Envoy's user may open; the stats port serves /ready and /stats/prometheus only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gateway-admin-" });
  const group = await ProcessGroup.create();
  try {
    const settings = {
      ...defaultGatewaySettings(
        await ensureDevCertificates(),
        `${dir}/endpoints`,
        `${root}/proto/gen/shop.binpb`,
      ),
      port: freePort(),
      statsPort: freePort(),
      adminSocket: `${dir}/admin.sock`,
    };
    await writeGatewayConfig(settings, `${dir}/envoy.json`);
    const envoy = await startEnvoy(group, { configPath: `${dir}/envoy.json`, statsPort: settings.statsPort });

    const socket = await Deno.lstat(settings.adminSocket);
    assert.ok(socket.isSocket, "the admin API is a Unix socket");
    assert.equal((socket.mode ?? 0) & 0o777, 0o600, "readable and writable by Envoy's user only");
    const clusters = await adminRequest(settings.adminSocket, "/clusters");
    assert.equal(clusters.status, 200, "the owner reads the admin API through the socket");
    assert.match(clusters.body, /^product::/m);

    const stats = await fetch(`${envoy.adminUrl}/stats/prometheus`);
    assert.equal(stats.status, 200);
    assert.match(await stats.text(), /^envoy_server_live\b/m, "Prometheus reads Envoy's statistics");
    const ready = await fetch(`${envoy.adminUrl}/ready`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.text()).trim(), "LIVE");

    // Anyone on the host may reach the TCP port: nothing there changes Envoy or tells its configuration.
    const probes: [string, string][] = [
      ["POST", "/runtime_modify?upstream.use_http2=false"],
      ["POST", "/quitquitquit"],
      ["POST", "/ready"],
      ["POST", "/stats/prometheus"],
      ["GET", "/clusters"],
      ["GET", "/config_dump"],
      ["GET", "/runtime"],
      ["GET", "/ready/../runtime_modify"],
      ["GET", "/stats/prometheus/../../runtime_modify"],
      ["GET", "/%72untime_modify"],
    ];
    for (const [method, path] of probes) {
      const response = await fetch(`${envoy.adminUrl}${path}`, { method });
      await response.body?.cancel();
      assert.ok(response.status === 404 || response.status === 400, `${method} ${path}: ${response.status}`);
    }
    // What the compose health check sends (bash's /dev/tcp, HTTP/1.0 without a Host).
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: settings.statsPort });
    await conn.write(new TextEncoder().encode("GET /ready HTTP/1.0\r\n\r\n"));
    const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    assert.match(answer, /^HTTP\/1\.[01] 200[^]*LIVE/);
    const runtime = JSON.parse((await adminRequest(settings.adminSocket, "/runtime")).body);
    assert.deepEqual(Object.keys(runtime.entries ?? {}), [], "no runtime value was changed");
    assert.equal((await fetch(`${envoy.adminUrl}/ready`)).status, 200, "Envoy still runs");
  } finally {
    await group.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the renderer turns Envoy's tracer on from the variables every service reads, off when empty", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gateway-render-" });
  try {
    const traced = await render(dir, {
      SHOP_TRACING_ENDPOINT: "http://jaeger:4318",
      SHOP_TRACING_SAMPLE_RATIO: "0.25",
    });
    assert.ok(traced.success, new TextDecoder().decode(traced.stderr));
    const text = await Deno.readTextFile(`${dir}/envoy.json`);
    assert.match(text, /"uri": "http:\/\/jaeger:4318\/v1\/traces"/);
    assert.match(text, /"random_sampling": \{\s*"value": 25\s*\}/);
    assert.match(text, /"address": "jaeger",\s*"port_value": 4318/);
    assert.match(text, /"tracing.opentelemetry.min_flush_spans": 512/, "Envoy sends its spans in batches");
    const { success, output } = await validate(`${dir}/envoy.json`);
    assert.ok(success, output);

    const off = await render(dir, { SHOP_TRACING_ENDPOINT: "" });
    assert.ok(off.success, new TextDecoder().decode(off.stderr));
    assert.doesNotMatch(await Deno.readTextFile(`${dir}/envoy.json`), /opentelemetry|trace_store/);

    const bad = await render(dir, {
      SHOP_TRACING_ENDPOINT: "http://jaeger:4318",
      SHOP_TRACING_SAMPLE_RATIO: "2",
    });
    assert.ok(!bad.success);
    assert.match(new TextDecoder().decode(bad.stderr), /SHOP_TRACING_SAMPLE_RATIO/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
