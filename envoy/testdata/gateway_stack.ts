/**
 * A real gateway for end-to-end tests: Envoy (from the harness) in front of the real user service (a
 * process with a fresh PostgreSQL database and its own signing key), stub processes of the product and
 * payment services (`stub_service.ts`), and the edge bridge writing the endpoint files from a static source
 * the test can change. The order service has no instance, so its routes answer UNAVAILABLE.
 *
 * @module
 */
import {
  eventually,
  freePort,
  postgresForTests,
  type PostgresTestDatabase,
  ProcessGroup,
  type StartedEnvoy,
  startEnvoy,
} from "@shop/platform/testing";
import { ensureDevCertificates } from "@shop/platform/tls";
import { type Endpoint, StaticEndpointSource } from "../../services/edge/endpoint_source.ts";
import { type Bridge, startBridge } from "../../services/edge/bridge.ts";
import { type ServiceProcess, startServiceProcess } from "../../services/platform/testing/service_process.ts";
import { writeSigningKey } from "../../services/user/testdata/fixtures.ts";
import { defaultGatewaySettings, type GatewaySettings, upstreamServices } from "../gateway_config.ts";
import { writeGatewayConfig } from "../render_config.ts";
import { waitForHosts } from "../../stack/routed.ts";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The seeded admin of the stack's user service. */
export const admin = { email: "boss@example.com", password: "a long admin secret" };

/** A running stack; `await using` stops all of it. */
export interface GatewayStack extends AsyncDisposable {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly envoy: StartedEnvoy;
  readonly settings: GatewaySettings;
  readonly certsDir: string;
  /** The dev CA, to trust the gateway's certificate. */
  readonly ca: string;
  /** The user service's signing keys (`<kid>.pem`). */
  readonly keysDir: string;
  readonly user: ServiceProcess;
  readonly source: StaticEndpointSource;
  readonly bridge: Bridge;
  /** The endpoints the source has now. */
  endpoints(): Endpoint[];
  /** An HTTP client that trusts the dev CA, optionally bound to a local address (127.0.0.2, ...). */
  client(localAddress?: string): Deno.HttpClient;
  /** Waits until exactly `healthy` hosts of a cluster pass Envoy's health checks. */
  waitForHealthy(cluster: string, healthy: number, timeoutMs?: number): Promise<void>;
}

/** Options of {@linkcode startGatewayStack}. */
export interface GatewayStackOptions {
  /** Changes to the default settings (limits, for example). */
  settings?: (settings: GatewaySettings) => GatewaySettings;
  label: string;
}

const stubScript = new URL("./stub_service.ts", import.meta.url);

/** Starts a stub of the product or payment service as its own process (so a test can SIGKILL it). */
export async function startStub(
  service: "product" | "payment",
  instance: string,
  certsDir: string,
): Promise<ServiceProcess> {
  return await startServiceProcess(stubScript, {
    args: [service, instance],
    env: { SHOP_STUB_CERTS_DIR: certsDir },
  });
}

/**
 * Starts the stack and waits until the gateway routes to the user service and knows its JWKS.
 *
 * @example
 * ```ts ignore
 * await using stack = await startGatewayStack({ label: "gateway" });
 * const response = await fetch(`${stack.url}/.well-known/jwks.json`, { client: stack.client() });
 * ```
 */
export async function startGatewayStack(options: GatewayStackOptions): Promise<GatewayStack> {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch {
        // Keep cleaning up the rest.
      }
    }
  };
  try {
    const certsDir = await ensureDevCertificates();
    const ca = await Deno.readTextFile(`${certsDir}/ca.crt`);
    const db: PostgresTestDatabase = await (await postgresForTests()).createDatabase({
      label: options.label,
    });
    cleanups.push(() => db[Symbol.asyncDispose]());
    const dir = await Deno.makeTempDir({ prefix: "shop-gateway-" });
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
    const keysDir = `${dir}/jwt`;
    await Deno.mkdir(keysDir);
    await writeSigningKey(keysDir, "k-1");

    const user = await startServiceProcess(new URL("../../services/user/main.ts", import.meta.url), {
      env: {
        SHOP_ENV: "dev",
        SHOP_USER_SERVER_PORT: "0",
        SHOP_USER_DATABASE_URL: db.url,
        SHOP_USER_TLS_CERTS_DIR: certsDir,
        SHOP_USER_JWT_KEYS_DIR: keysDir,
        SHOP_USER_JWT_KEYS_RELOAD_INTERVAL: "1s",
        SHOP_USER_PASSWORD_SCRYPT_LOG_N: "12",
        SHOP_USER_DISCOVERY_ENABLED: "false",
        SHOP_ADMIN_EMAIL: admin.email,
        SHOP_ADMIN_PASSWORD: admin.password,
      },
    });
    cleanups.push(() => user.kill());
    const product = await startStub("product", "product-1", certsDir);
    cleanups.push(() => product.kill());
    const payment = await startStub("payment", "payment-1", certsDir);
    cleanups.push(() => payment.kill());

    const endpointsDir = `${dir}/endpoints`;
    const source = new StaticEndpointSource([
      { service: "user", address: "127.0.0.1", port: user.port },
      { service: "product", address: "127.0.0.1", port: product.port },
      { service: "payment", address: "127.0.0.1", port: payment.port },
    ]);
    let current: Endpoint[] = [];
    await source.watch((endpoints) => void (current = [...endpoints]));
    const bridge = await startBridge({ source, dir: endpointsDir, services: upstreamServices });
    cleanups.push(() => bridge.stop());

    const base = defaultGatewaySettings(certsDir, endpointsDir, `${root}/proto/gen/shop.binpb`);
    const settings = (options.settings ?? ((s) => s))({
      ...base,
      port: freePort(),
      statsPort: freePort(),
      adminSocket: `${dir}/envoy-admin.sock`,
      healthCheckIntervalMs: 500,
    });
    const configPath = `${dir}/envoy.json`;
    await writeGatewayConfig(settings, configPath);
    const group = await ProcessGroup.create();
    cleanups.push(() => group.stop());
    const envoy = await startEnvoy(group, {
      configPath,
      statsPort: settings.statsPort,
      adminSocket: settings.adminSocket,
    });

    const url = `https://127.0.0.1:${settings.port}`;
    const clients: Deno.HttpClient[] = [];
    cleanups.push(() => clients.forEach((c) => c.close()));
    const client = (localAddress?: string) => {
      const made = Deno.createHttpClient(
        localAddress === undefined ? { caCerts: [ca] } : { caCerts: [ca], localAddress },
      );
      clients.push(made);
      return made;
    };
    const waitForHealthy = async (cluster: string, healthy: number, timeoutMs = 15_000) => {
      try {
        await waitForHosts(
          settings.adminSocket,
          cluster,
          `${healthy} healthy hosts`,
          (hosts) => hosts.filter((host) => host.healthFlags === "healthy").length === healthy,
          timeoutMs,
        );
      } catch (error) {
        // Say what the user service was doing: a health check that times out again and again (seen once
        // on a loaded machine) is otherwise a riddle.
        const lastLogs = user.logs.slice(-8).map((entry) => JSON.stringify(entry)).join("\n");
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}\nthe user service's last log lines:\n` +
            `${lastLogs}\nits stderr: ${user.stderr().slice(-2_000) || "(empty)"}`,
          { cause: error },
        );
      }
    };
    await waitForHealthy("user", 1);
    // The JWKS is fetched in the background once the user cluster is up; wait until a token verifies.
    const probe = client();
    let status = 0;
    await eventually("the gateway verifies the user service's tokens", async () => {
      const response = await fetch(`${url}/v1/auth:login`, {
        method: "POST",
        client: probe,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(admin),
      });
      const { accessToken } = await response.json();
      const me = await fetch(`${url}/v1/users/me`, {
        client: probe,
        headers: { authorization: `Bearer ${accessToken}` },
      });
      await me.body?.cancel();
      status = me.status;
      return status === 200;
    }, { intervalMs: 200, lastSeen: () => `GET /v1/users/me answered ${status}` });

    return {
      url,
      port: settings.port,
      envoy,
      settings,
      certsDir,
      ca,
      keysDir,
      user,
      source,
      bridge,
      endpoints: () => [...current],
      client,
      waitForHealthy,
      [Symbol.asyncDispose]: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
