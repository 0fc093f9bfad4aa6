/**
 * The whole system on free ports, for end-to-end tests and benchmarks: what `deno task dev` runs on fixed
 * ports, started from the test harness.
 *
 * - PostgreSQL, etcd, FerretDB and stripe-mock are the harness' shared servers (`postgresForTests()` and
 *   friends): the stack takes fresh databases (user, order, payment; one MongoDB database for every
 *   product instance) and an etcd key prefix of its own, and drops them at the end. Inside
 *   `deno task test` the servers already run; a file run alone starts them itself.
 * - The Stripe simulator (a process, in front of stripe-mock), sending its webhooks through the gateway.
 * - The four services as real processes (`SHOP_ENV=dev`, so the admin account and the demo catalog are
 *   seeded), registered in etcd under the stack's own discovery prefix with a short lease TTL.
 * - The edge bridge (a process) following that prefix and writing Envoy's EDS files.
 * - Envoy, rendered by `envoy/render_config.ts`, on a free gateway port and admin port.
 *
 * `startStack` returns once Envoy is ready AND the gateway routes to every service (each has the expected
 * number of healthy hosts, a token verifies, and a public call of each service answers 200); on any
 * failure it stops what it started and throws an error naming what was not ready.
 *
 * @module
 */
import {
  etcdForTests,
  type EtcdTestNamespace,
  freePort,
  mongoForTests,
  type MongoTestDatabase,
  postgresForTests,
  type PostgresTestDatabase,
  ProcessGroup,
  type StartedEnvoy,
  startEnvoy,
  stripeMockForTests,
} from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { type ServiceProcess, startServiceProcess } from "../services/platform/testing/service_process.ts";
import { writeSigningKey } from "../services/user/testdata/fixtures.ts";
import { defaultGatewaySettings, type GatewaySettings, type RateLimit } from "../envoy/gateway_config.ts";
import { writeGatewayConfig } from "../envoy/render_config.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * The four services of the shop.
 *
 * @example
 * ```ts ignore
 * for (const service of stackServices) console.log(stack.instances(service).map((i) => i.url));
 * ```
 */
export const stackServices = ["user", "product", "order", "payment"] as const;

/** One of {@linkcode stackServices}. */
export type StackService = (typeof stackServices)[number];

/** Rate limits of a gateway; any left out keep the stack's default. */
export interface StackLimits {
  perAddress?: RateLimit;
  signIn?: RateLimit;
  perUser?: RateLimit;
}

/** Options of {@linkcode startStack}. */
export interface StackOptions {
  /** A readable start of the names of the databases and the etcd prefix (`e2e`). */
  label?: string;
  /** How many product-service instances to start (1). */
  productInstances?: 1 | 2;
  /**
   * Rate limits of the gateway. The default is so high that no test trips one by accident (every test
   * client is 127.0.0.1); limit tests pass low ones here or to {@linkcode Stack.startGateway}.
   */
  limits?: StackLimits;
  /** The seeded admin account (`SHOP_ADMIN_EMAIL` / `SHOP_ADMIN_PASSWORD`). */
  admin?: { email: string; password: string };
  /** The lease TTL of every instance in etcd, in ms (3000; at least 2000). */
  discoveryTtlMs?: number;
  /** How long a SIGTERMed instance keeps serving after it left etcd, in ms (the services' 2000). */
  preStopDelayMs?: number;
  /** Envoy's active health check interval, in ms (500). */
  healthCheckIntervalMs?: number;
  /** The bound on getting the whole stack ready, in ms (120000). */
  readyTimeoutMs?: number;
  /** Told each phase of the start with the milliseconds since `startStack` was called (for benchmarks and slow starts). */
  onProgress?: (phase: string, elapsedMs: number) => void;
  /** More environment variables per service, e.g. `{ order: { SHOP_ORDER_SAGA_BUDGET: "5s" } }`. */
  env?: Partial<Record<StackService, Record<string, string>>>;
}

/** A running instance of a service. */
export interface StackInstance {
  readonly service: StackService;
  /** `product-2`: the service and a number counting the instances the stack started of it. */
  readonly name: string;
  /** `https://127.0.0.1:PORT` (mTLS; the gateway is the way in for clients). */
  readonly url: string;
  readonly port: number;
  /** The process, with its JSON log lines. */
  readonly process: ServiceProcess;
  /** SIGTERM (graceful: leaves etcd, drains, exits); resolves when it has exited. */
  stop(): Promise<Deno.CommandStatus>;
  /** SIGKILL (it stays in etcd until its lease ends); resolves when it has exited. */
  kill(): Promise<Deno.CommandStatus>;
}

/** A gateway (Envoy) of the stack. */
export interface StackGateway {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** Envoy's admin interface, `http://127.0.0.1:PORT`. */
  readonly adminUrl: string;
  readonly settings: GatewaySettings;
  readonly envoy: StartedEnvoy;
}

/** One upstream host as Envoy's admin `/clusters` reports it. */
export interface ClusterHost {
  /** `127.0.0.1:PORT`. */
  address: string;
  port: number;
  /** `healthy`, or the failed checks such as `/failed_active_hc`. */
  healthFlags: string;
  /** Requests Envoy has sent to this host so far. */
  requests: number;
}

/** A running stack; `await using` stops all of it and drops its data. */
export interface Stack extends AsyncDisposable {
  /** The main gateway. */
  readonly gateway: StackGateway;
  /** `stack.gateway.url`: the base URL of every REST call. */
  readonly url: string;
  /** `stack.gateway.adminUrl`. */
  readonly adminUrl: string;
  /** The dev CA, PEM: trust it to talk to the gateway. */
  readonly ca: string;
  readonly certsDir: string;
  /** The seeded admin account. */
  readonly admin: { email: string; password: string };
  /** The Stripe simulator (`GET /_simulator/state` lists every PaymentIntent and refund). */
  readonly stripeSimulatorUrl: string;
  /** The etcd client URL and the discovery prefix every instance registers under. */
  readonly discovery: { etcdUrl: string; prefix: string; ttlMs: number };
  /** The running instances of a service, oldest first (stopped and killed ones are left out). */
  instances(service: StackService): StackInstance[];
  /** Starts one more instance of a service (registered in etcd like the others); it is stopped with the stack. */
  startInstance(service: StackService): Promise<StackInstance>;
  /** Starts another Envoy over the same endpoints, e.g. with low rate limits; stopped with the stack. */
  startGateway(options?: { limits?: StackLimits }): Promise<StackGateway>;
  /** An HTTP client that trusts the dev CA, optionally bound to a local address (127.0.0.2, ...). */
  client(localAddress?: string): Deno.HttpClient;
  /**
   * How many RPCs of a method an instance has started, from its `/metrics` (`grpc_server_started_total`,
   * read over mTLS as Prometheus would): tells instances apart without relying on the gateway.
   */
  rpcsStarted(instance: StackInstance, method: string): Promise<number>;
  /** The hosts of a cluster (`user`, `product`, `order`, `payment`) in a gateway (the main one by default). */
  clusterHosts(cluster: StackService, gateway?: StackGateway): Promise<ClusterHost[]>;
  /** Waits until `check` holds for a cluster's hosts; the error shows the hosts it last saw. */
  waitForHosts(
    cluster: StackService,
    what: string,
    check: (hosts: ClusterHost[]) => boolean,
    options?: { timeoutMs?: number; gateway?: StackGateway },
  ): Promise<ClusterHost[]>;
}

/**
 * The admin account of a stack unless the options name another.
 *
 * @example
 * ```ts ignore
 * await fetch(`${stack.url}/v1/auth:login`, { method: "POST", client, body: JSON.stringify(defaultAdmin) });
 * ```
 */
export const defaultAdmin = { email: "e2e-admin@example.com", password: "an e2e admin secret" } as const;

/** Limits that no test reaches by accident. */
const lenientLimits = {
  perAddress: { rate: 100_000, burst: 100_000 },
  signIn: { rate: 100_000, burst: 100_000 },
  perUser: { rate: 100_000, burst: 100_000 },
} as const;

const envPrefixes: Record<StackService, string> = {
  user: "SHOP_USER",
  product: "SHOP_PRODUCT",
  order: "SHOP_ORDER",
  payment: "SHOP_PAYMENT",
};

/**
 * Starts the whole system on free ports and waits until the gateway routes to every service.
 *
 * @example Place an order through the gateway
 * ```ts ignore
 * await using stack = await startStack({ label: "checkout", productInstances: 2 });
 * const response = await fetch(`${stack.url}/v1/products?pageSize=5`, { client: stack.client() });
 * ```
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const label = options.label ?? "e2e";
  const admin = options.admin ?? defaultAdmin;
  const ttlMs = options.discoveryTtlMs ?? 3_000;
  const healthCheckIntervalMs = options.healthCheckIntervalMs ?? 500;
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const productInstances = options.productInstances ?? 1;
  const started = Date.now();
  const progress = (phase: string) => options.onProgress?.(phase, Date.now() - started);

  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  let disposed = false;
  const cleanup = async () => {
    if (disposed) return;
    disposed = true;
    const errors: unknown[] = [];
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        // Keep cleaning up the rest; report at the end.
        errors.push(error);
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, `stopping the stack: ${errors.length} step(s) failed`);
    }
  };

  try {
    const certsDir = await ensureDevCertificates();
    const ca = await Deno.readTextFile(`${certsDir}/ca.crt`);
    const dir = await Deno.makeTempDir({ prefix: `shop-e2e-${label}-` });
    cleanups.push(() => Deno.remove(dir, { recursive: true }));

    // The shared servers of the test run, and this stack's part of each.
    const [postgres, etcd, mongo, stripeMock] = await Promise.all([
      postgresForTests(),
      etcdForTests(),
      mongoForTests(),
      stripeMockForTests(),
    ]);
    progress("shared servers");
    const databases: Record<"user" | "order" | "payment", PostgresTestDatabase> = {
      user: await postgres.createDatabase({ label: `${label}_user` }),
      order: await postgres.createDatabase({ label: `${label}_order` }),
      payment: await postgres.createDatabase({ label: `${label}_payment` }),
    };
    for (const db of Object.values(databases)) cleanups.push(() => db[Symbol.asyncDispose]());
    const productDb: MongoTestDatabase = await mongo.createDatabase({ label: `${label}_product` });
    cleanups.push(() => productDb.drop());
    const namespace: EtcdTestNamespace = await etcd.createNamespace({ label });
    cleanups.push(() => namespace.clear());
    const prefix = `${namespace.prefix}services`;

    progress("databases and etcd namespace");
    const keysDir = `${dir}/jwt`;
    await Deno.mkdir(keysDir);
    await writeSigningKey(keysDir, "e2e-1");

    // Ports are picked now: the simulator must know the gateway's before Envoy starts.
    const gatewayPort = freePort();
    const endpointsDir = `${dir}/endpoints`;

    // Envoy and the edge bridge (a watchdog kills them if this process dies); stopped after the services.
    const group = await ProcessGroup.create();
    cleanups.push(() => group.stop(5_000));

    const simulator = await startServiceProcess(
      new URL("../services/payment/stripe_simulator/main.ts", import.meta.url),
      {
        env: {
          SHOP_STRIPE_SIMULATOR_SERVER_PORT: "0",
          SHOP_STRIPE_SIMULATOR_UPSTREAM_URL: stripeMock.url,
          // Webhooks arrive as Stripe's would: through the gateway, which passes the raw body on.
          SHOP_STRIPE_SIMULATOR_WEBHOOK_URL: `https://127.0.0.1:${gatewayPort}/v1/webhooks/stripe`,
          SHOP_STRIPE_SIMULATOR_WEBHOOK_CERTS_DIR: certsDir,
        },
      },
    );
    cleanups.push(() => simulator.kill());
    progress("stripe simulator");
    const stripeSimulatorUrl = simulator.url.replace("https://", "http://");

    const serviceEnv = (service: StackService): Record<string, string> => {
      const p = envPrefixes[service];
      const common: Record<string, string> = {
        SHOP_ENV: "dev",
        [`${p}_SERVER_PORT`]: "0",
        [`${p}_TLS_CERTS_DIR`]: certsDir,
        [`${p}_DISCOVERY_ENABLED`]: "true",
        [`${p}_DISCOVERY_ETCD`]: etcd.url,
        [`${p}_DISCOVERY_PREFIX`]: prefix,
        [`${p}_DISCOVERY_TTL`]: `${ttlMs}ms`,
        ...(options.preStopDelayMs === undefined
          ? {}
          : { [`${p}_SERVER_PRE_STOP_DELAY`]: `${options.preStopDelayMs}ms` }),
      };
      const own: Record<StackService, Record<string, string>> = {
        user: {
          SHOP_USER_DATABASE_URL: databases.user.url,
          SHOP_USER_JWT_KEYS_DIR: keysDir,
          SHOP_USER_PASSWORD_SCRYPT_LOG_N: "12",
          SHOP_ADMIN_EMAIL: admin.email,
          SHOP_ADMIN_PASSWORD: admin.password,
        },
        product: {
          SHOP_PRODUCT_MONGO_URL: productDb.url,
          SHOP_PRODUCT_MONGO_DATABASE: productDb.name,
        },
        order: { SHOP_ORDER_DATABASE_URL: databases.order.url },
        payment: {
          SHOP_PAYMENT_DATABASE_URL: databases.payment.url,
          SHOP_PAYMENT_STRIPE_BASE_URL: stripeSimulatorUrl,
        },
      };
      return { ...common, ...own[service], ...options.env?.[service] };
    };

    const running: StackInstance[] = [];
    const counters: Record<StackService, number> = { user: 0, product: 0, order: 0, payment: 0 };
    const startInstance = async (service: StackService): Promise<StackInstance> => {
      if (disposed) throw new Error(`cannot start ${service}: the stack is stopped`);
      const name = `${service}-${++counters[service]}`;
      const process = await startServiceProcess(
        new URL(`../services/${service}/main.ts`, import.meta.url),
        { env: serviceEnv(service), timeoutMs: 60_000 },
      ).catch((error) => {
        throw new Error(`${name} did not start: ${error instanceof Error ? error.message : error}`);
      });
      const leave = () => {
        const index = running.findIndex((i) => i.process === process);
        if (index !== -1) running.splice(index, 1);
      };
      const instance: StackInstance = {
        service,
        name,
        url: process.url,
        port: process.port,
        process,
        stop: async () => {
          leave();
          process.signal("SIGTERM");
          return await process.child.status;
        },
        kill: async () => {
          leave();
          return await process.kill();
        },
      };
      running.push(instance);
      cleanups.push(() => process.kill());
      return instance;
    };

    // Every service registers itself; the order service finds product and payment in etcd on demand.
    await Promise.all([
      startInstance("user"),
      startInstance("payment"),
      startInstance("order"),
      ...Array.from({ length: productInstances }, () => startInstance("product")),
    ]);

    progress("services");
    await group.start({
      name: "edge",
      command: Deno.execPath(),
      args: ["run", "--allow-all", "--no-check", `${root}/services/edge/main.ts`],
      env: {
        NO_COLOR: "1",
        SHOP_EDGE_ENDPOINTS_DIR: endpointsDir,
        SHOP_EDGE_ETCD_URL: etcd.url,
        SHOP_EDGE_ETCD_PREFIX: prefix,
      },
    });

    const baseSettings = defaultGatewaySettings(certsDir, endpointsDir, `${root}/proto/gen/shop.binpb`);
    let gateways = 0;
    const launchGateway = async (port: number, limits: StackLimits | undefined): Promise<StackGateway> => {
      const index = ++gateways;
      const settings: GatewaySettings = {
        ...baseSettings,
        port,
        adminPort: freePort(),
        healthCheckIntervalMs,
        limits: {
          ...baseSettings.limits,
          ...lenientLimits,
          ...options.limits,
          ...limits,
        },
      };
      const configPath = `${dir}/envoy-${index}.json`;
      await writeGatewayConfig(settings, configPath);
      const envoy = await startEnvoy(group, {
        configPath,
        adminPort: settings.adminPort,
        name: `envoy-${index}`,
      });
      return { url: `https://127.0.0.1:${port}`, adminUrl: envoy.adminUrl, settings, envoy };
    };
    const gateway = await launchGateway(gatewayPort, undefined);
    progress("envoy ready");

    const clients: Deno.HttpClient[] = [];
    cleanups.push(() => clients.splice(0).forEach((c) => c.close()));
    const client = (localAddress?: string): Deno.HttpClient => {
      const made = Deno.createHttpClient(
        localAddress === undefined ? { caCerts: [ca] } : { caCerts: [ca], localAddress },
      );
      clients.push(made);
      return made;
    };

    const prometheus = await readTlsFiles(certsDir, "prometheus");
    const scraper = Deno.createHttpClient({
      caCerts: [prometheus.ca],
      cert: prometheus.cert,
      key: prometheus.key,
    });
    cleanups.push(() => scraper.close());
    const rpcsStarted = async (instance: StackInstance, method: string): Promise<number> => {
      const response = await fetch(`${instance.url}/metrics`, {
        client: scraper,
        signal: AbortSignal.timeout(5_000),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`${instance.name} /metrics: ${response.status} ${text.slice(0, 200)}`);
      }
      return text.split("\n")
        .filter((line) =>
          line.startsWith("grpc_server_started_total{") && line.includes(`grpc_method="${method}"`)
        )
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
    };

    const clusterHosts = async (cluster: StackService, on: StackGateway = gateway): Promise<ClusterHost[]> =>
      parseClusters(await (await fetch(`${on.adminUrl}/clusters`)).text(), cluster);

    const waitForHosts: Stack["waitForHosts"] = async (cluster, what, check, waitOptions = {}) => {
      const deadline = Date.now() + (waitOptions.timeoutMs ?? 30_000);
      let hosts: ClusterHost[] = [];
      while (true) {
        hosts = await clusterHosts(cluster, waitOptions.gateway ?? gateway).catch(() => []);
        if (check(hosts)) return hosts;
        if (Date.now() > deadline) {
          throw new Error(
            `the gateway's ${cluster} cluster did not get ${what}; its hosts: ${JSON.stringify(hosts)}`,
          );
        }
        await delay(100);
      }
    };

    const stack: Stack = {
      gateway,
      url: gateway.url,
      adminUrl: gateway.adminUrl,
      ca,
      certsDir,
      admin,
      stripeSimulatorUrl,
      discovery: { etcdUrl: etcd.url, prefix, ttlMs },
      instances: (service) => running.filter((i) => i.service === service),
      startInstance,
      startGateway: async (gatewayOptions = {}) => {
        const extra = await launchGateway(freePort(), gatewayOptions.limits);
        await waitUntilRouted(stack, extra, Date.now() + readyTimeoutMs);
        return extra;
      },
      client,
      rpcsStarted,
      clusterHosts,
      waitForHosts,
      [Symbol.asyncDispose]: cleanup,
    };
    await waitUntilRouted(stack, gateway, started + readyTimeoutMs);
    progress("routed");
    return stack;
  } catch (error) {
    try {
      await cleanup();
    } catch {
      // The start failure is the error worth reporting.
    }
    throw error;
  }
}

/**
 * Waits until a gateway routes to every service: each cluster has as many healthy hosts as the stack
 * runs instances, a token the user service signed verifies at the gateway (it fetched the JWKS), and a
 * REST call of each service answers 200.
 */
async function waitUntilRouted(stack: Stack, gateway: StackGateway, deadline: number): Promise<void> {
  const left = () => Math.max(deadline - Date.now(), 1);
  for (const service of stackServices) {
    const expected = stack.instances(service).map((i) => i.port).sort();
    await stack.waitForHosts(
      service,
      `its ${expected.length} instance(s) (ports ${expected.join(", ")}) healthy`,
      (hosts) =>
        JSON.stringify(hosts.filter((h) => h.healthFlags === "healthy").map((h) => h.port).sort()) ===
          JSON.stringify(expected),
      { timeoutMs: left(), gateway },
    ).catch((error) => {
      throw new Error(`the stack is not ready: ${error instanceof Error ? error.message : error}`);
    });
  }
  const client = stack.client();
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${gateway.url}${path}`, { ...init, client });
    return { status: response.status, text: await response.text() };
  };
  const probe = async (what: string, attempt: () => Promise<{ status: number; text: string }>) => {
    let last = "no answer";
    while (true) {
      try {
        const reply = await attempt();
        if (reply.status === 200) return reply.text;
        last = `${reply.status} ${reply.text.slice(0, 300)}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the stack is not ready: ${what} did not answer 200 through ${gateway.url}; last: ${last}`,
        );
      }
      await delay(200);
    }
  };
  const login = await probe("POST /v1/auth:login (user service)", () =>
    call("/v1/auth:login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(stack.admin),
    }));
  const { accessToken } = JSON.parse(login) as { accessToken: string };
  const headers = { authorization: `Bearer ${accessToken}` };
  // The gateway fetches the JWKS in the background once the user cluster is up: until then, 401.
  await probe(
    "GET /v1/users/me with the admin's token (JWKS at the gateway)",
    () => call("/v1/users/me", { headers }),
  );
  await probe("GET /v1/products (product service)", () => call("/v1/products?pageSize=1"));
  await probe("GET /v1/orders (order service)", () => call("/v1/orders?pageSize=1", { headers }));
  await probe(
    "GET /v1/payments (payment service)",
    () => call(`/v1/payments?orderId=${crypto.randomUUID()}`, { headers }),
  );
}

/**
 * The hosts of one cluster from Envoy's admin `/clusters` text, e.g. lines
 * `product::127.0.0.1:4711::health_flags::healthy` and `product::127.0.0.1:4711::rq_total::12`.
 *
 * @example
 * ```ts
 * parseClusters("product::127.0.0.1:4711::rq_total::3\nproduct::127.0.0.1:4711::health_flags::healthy", "product");
 * // [{ address: "127.0.0.1:4711", port: 4711, healthFlags: "healthy", requests: 3 }]
 * ```
 */
export function parseClusters(text: string, cluster: string): ClusterHost[] {
  const hosts = new Map<string, ClusterHost>();
  for (const line of text.split("\n")) {
    const parts = line.split("::");
    if (parts.length !== 4 || parts[0] !== cluster) continue;
    const [, address = "", key, value = ""] = parts;
    if (!/^[\d.]+:\d+$/.test(address)) continue;
    const host = hosts.get(address) ??
      { address, port: Number(address.split(":")[1]), healthFlags: "", requests: 0 };
    hosts.set(address, host);
    if (key === "health_flags") host.healthFlags = value;
    if (key === "rq_total") host.requests = Number(value);
  }
  return [...hosts.values()];
}

/**
 * Waits `ms` milliseconds.
 *
 * @example
 * ```ts ignore
 * await delay(100);
 * ```
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
