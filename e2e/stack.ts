/**
 * The whole system on free ports, for end-to-end tests and benchmarks: the wiring of `deno task dev`
 * (`stack/wiring.ts`: the same processes, configuration, order and readiness check) with what differs
 * for a test:
 *
 * - PostgreSQL, etcd, FerretDB and stripe-mock are the harness' shared servers (`postgresForTests()` and
 *   friends): the stack takes fresh databases (user, order, payment; one MongoDB database for every
 *   product instance) and an etcd key prefix of its own, and drops them at the end. Inside
 *   `deno task test` the servers already run; a file run alone starts them itself.
 * - Every port is a free one; the services and the Stripe simulator are child processes of the test
 *   (their log lines readable in `instance.process.logs`), registered in etcd with a short lease TTL.
 * - The gateway's rate limits are out of reach unless a test sets them; health checks run every 500 ms;
 *   passwords are hashed at a low scrypt cost.
 *
 * `startStack` returns once the gateway routes to every service (each has the expected number of healthy
 * hosts, a token verifies, and a call of each service answers 200); on any failure it stops what it
 * started and throws an error naming what was not ready.
 *
 * @module
 */
import {
  acceptsConnections,
  delay,
  eventually,
  freePort,
  isRunning,
  ProcessGroup,
  type ServiceProcess,
} from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { writeSigningKey } from "../services/user/testdata/fixtures.ts";
import { defaultGatewaySettings, type GatewaySettings, type RateLimit } from "../envoy/gateway_config.ts";
import { type ClusterHost, clusterHosts, parseClusters, waitForHosts } from "../stack/routed.ts";
import { childRunner } from "../stack/runners.ts";
import { borrowTestServers, type RestartableServer, startOwnServers } from "../stack/servers.ts";
import { type StackService, stackServices } from "../stack/services.ts";
import { type LaunchedGateway, type LaunchedInstance, launchStack } from "../stack/wiring.ts";

export { type ClusterHost, delay, parseClusters, type RestartableServer, type StackService, stackServices };

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

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
  /**
   * Runs the trace store (Jaeger, on free ports) and traces `sampleRatio` of requests (0..1; 0: the store
   * runs, nobody sends it anything). No trace store when omitted.
   */
  tracing?: { sampleRatio: number };
  /**
   * PostgreSQL, etcd and FerretDB of the stack's own instead of the test run's shared ones, so that
   * {@linkcode Stack.restartServer} may restart them (false).
   */
  ownServers?: boolean;
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
export type StackGateway = LaunchedGateway;

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
  /** Mailpit's UI and API (`GET /api/v1/messages`): every email the shop sent. */
  readonly mailpitUrl: string;
  /** The notification service (internal only, not behind the gateway), `https://127.0.0.1:PORT`. */
  readonly notificationUrl: string;
  /** The trace store's query API (`/api/traces/<id>`), when `tracing` was asked for. */
  readonly traceQueryUrl: string | undefined;
  /** The URL of a service's PostgreSQL database, for a test that reads a store directly. */
  databaseUrl(service: "user" | "order" | "payment" | "notification"): Promise<string>;
  /** The etcd client URL and the discovery prefix every instance registers under. */
  readonly discovery: { etcdUrl: string; prefix: string; ttlMs: number };
  /** The running instances of a service, oldest first (stopped and killed ones are left out). */
  instances(service: StackService): StackInstance[];
  /** Starts one more instance of a service (registered in etcd like the others); it is stopped with the stack. */
  startInstance(service: StackService): Promise<StackInstance>;
  /**
   * Stops a server of the stack's own (`ownServers`) with its stop signal, or `signal`, starts it again
   * on the same port and data, and resolves once it accepts connections.
   */
  restartServer(name: RestartableServer, options?: { signal?: Deno.Signal }): Promise<void>;
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

/**
 * Starts the whole system on free ports and waits until the gateway routes to every service: the wiring
 * of `deno task dev` (`stack/wiring.ts`) with throwaway data on the test run's servers.
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
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;

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
    const dir = await Deno.makeTempDir({ prefix: `shop-e2e-${label}-` });
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
    const jwtKeysDir = `${dir}/jwt`;
    await Deno.mkdir(jwtKeysDir);
    await writeSigningKey(jwtKeysDir, "e2e-1");
    // Envoy and the edge bridge (a watchdog kills them if this process dies); stopped after the services.
    const group = await ProcessGroup.create();
    cleanups.push(() => group.stop(5_000));

    const gatewaySettings = (endpointsDir: string, port: number, limits?: StackLimits): GatewaySettings => {
      const base = defaultGatewaySettings(certsDir, endpointsDir, `${root}/proto/gen/shop.binpb`);
      return {
        ...base,
        port,
        statsPort: freePort(),
        healthCheckIntervalMs: options.healthCheckIntervalMs ?? 500,
        limits: { ...base.limits, ...lenientLimits, ...options.limits, ...limits },
      };
    };
    // Picked now: the Stripe simulator must know the gateway's port before Envoy starts.
    const gatewayPort = freePort();
    let mainSettings: GatewaySettings | undefined;
    const launched = await launchStack<ServiceProcess>({
      certsDir,
      dir,
      runner: childRunner(group, (stop) => cleanups.push(stop)),
      servers: () =>
        options.ownServers === true
          ? startOwnServers(group, label)
          : borrowTestServers(label, (release) => cleanups.push(release)),
      ports: {
        stripeSimulator: 0,
        // Every service on any free port.
        services: Object.fromEntries(stackServices.map((service) => [service, 0])) as Record<
          StackService,
          number
        >,
      },
      gateway: (endpointsDir) => mainSettings ??= gatewaySettings(endpointsDir, gatewayPort),
      admin,
      jwtKeysDir,
      productInstances: options.productInstances ?? 1,
      discoveryTtlMs: ttlMs,
      ...(options.preStopDelayMs === undefined ? {} : { preStopDelayMs: options.preStopDelayMs }),
      env: {
        ...options.env,
        user: { SHOP_USER_PASSWORD_SCRYPT_LOG_N: "12", ...options.env?.user },
      },
      readyTimeoutMs,
      ...(options.tracing === undefined ? {} : {
        traceStore: {
          otlpHttpPort: freePort(),
          queryPort: freePort(),
          queryGrpcPort: freePort(),
          sampleRatio: options.tracing.sampleRatio,
        },
      }),
      onProgress: (event, part, elapsedMs) => {
        if (event === "started") options.onProgress?.(part, elapsedMs);
      },
    });

    // Stopped and killed instances leave this list; the wiring's keeps every instance it started.
    const running: StackInstance[] = [];
    const track = (launchedInstance: LaunchedInstance<ServiceProcess>): StackInstance => {
      const { process } = launchedInstance;
      const leave = () => {
        const index = running.findIndex((i) => i.process === process);
        if (index !== -1) running.splice(index, 1);
      };
      const instance: StackInstance = {
        ...launchedInstance,
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
      return instance;
    };
    launched.instances.forEach(track);

    const clients: Deno.HttpClient[] = [];
    cleanups.push(() => clients.splice(0).forEach((c) => c.close()));
    const client = (localAddress?: string): Deno.HttpClient => {
      const made = Deno.createHttpClient(
        localAddress === undefined ? { caCerts: [launched.ca] } : { caCerts: [launched.ca], localAddress },
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

    const { gateway } = launched;
    let gateways = 1;
    const stack: Stack = {
      gateway,
      url: gateway.url,
      adminUrl: gateway.adminUrl,
      ca: launched.ca,
      certsDir,
      admin,
      stripeSimulatorUrl: launched.stripeSimulatorUrl,
      mailpitUrl: launched.mailpitUrl,
      notificationUrl: launched.notificationUrl,
      traceQueryUrl: launched.traceStore?.queryUrl,
      databaseUrl: (service) => launched.servers.postgresDatabase(service),
      discovery: { etcdUrl: launched.servers.etcdUrl, prefix: launched.servers.discoveryPrefix ?? "", ttlMs },
      instances: (service) => running.filter((i) => i.service === service),
      startInstance: async (service) => {
        if (disposed) throw new Error(`cannot start ${service}: the stack is stopped`);
        return track(await launched.startInstance(service));
      },
      restartServer: async (name, restartOptions = {}) => {
        const process = group.processes.find((p) => p.name === name);
        const url = launched.servers.summary.find((line) => line.name === name)?.url;
        if (options.ownServers !== true || process === undefined || url === undefined) {
          throw new Error(`cannot restart ${name}: the stack runs on the test run's servers (ownServers)`);
        }
        Deno.kill(process.pid, restartOptions.signal ?? process.stopSignal);
        await eventually(`${name} stopped`, () => !isRunning(process.pid), { timeoutMs: 30_000 });
        await group.restart(process);
        const port = Number(new URL(url).port);
        await eventually(`${name} accepts connections again`, () => acceptsConnections(port), {
          timeoutMs: 30_000,
        });
      },
      startGateway: async (gatewayOptions = {}) => {
        const settings = gatewaySettings(gateway.settings.endpointsDir, freePort(), gatewayOptions.limits);
        const extra = await launched.startGateway(settings, `envoy-${++gateways}`);
        await launched.waitUntilRouted(extra, Date.now() + readyTimeoutMs, running);
        return extra;
      },
      client,
      rpcsStarted,
      clusterHosts: (cluster, on = gateway) => clusterHosts(on.adminSocket, cluster),
      waitForHosts: (cluster, what, check, waitOptions = {}) =>
        waitForHosts(
          (waitOptions.gateway ?? gateway).adminSocket,
          cluster,
          what,
          check,
          waitOptions.timeoutMs ?? 30_000,
        ),
      [Symbol.asyncDispose]: cleanup,
    };
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
