/**
 * The one wiring of the whole stack: which processes run, with which configuration, in which order, and
 * when the stack is ready. `deno task dev` (`scripts/lib/dev.ts`: fixed ports, data under `.local/`) and
 * the end-to-end tests and benchmarks (`e2e/stack.ts`: free ports, throwaway data on the test run's
 * servers) both call {@linkcode launchStack}; they differ only in the {@linkcode StackSetup} they pass.
 *
 * In order ({@linkcode stackParts}): the servers (PostgreSQL, etcd, FerretDB, stripe-mock, Redis), the log store
 * (with observability), the Stripe simulator, Mailpit, the services side by side, the notification service (each registers itself in etcd;
 * the order service finds product and payment there on demand), the edge bridge (etcd -> Envoy's
 * endpoint files), Envoy, then the rest of observability. Ready once the gateway routes to every
 * instance of every service ({@linkcode waitUntilRouted}). With `plumbingInOneProcess` (`deno task dev`),
 * the Deno plumbing (the Stripe simulator, the edge bridge, Envoy's log shipper, Prometheus' target
 * writer) runs in one process (`plumbing.ts`) started before the services, instead of one process each.
 *
 * To add a process, add one entry to {@linkcode stackParts}. To add a service, name it in
 * `upstreamServices` (envoy/gateway_config.ts); the type checker then asks for its entry in
 * `serviceSettings` below and its dev port in `devPorts` (`services.ts`).
 *
 * @module
 */
import {
  acceptsConnections,
  adminRequest,
  type StartedEnvoy,
  startEnvoy,
  startMailpit,
  withFreePorts,
} from "@shop/platform/testing";
import {
  prometheusConfig,
  startAlertmanager,
  startPrometheus,
  startVictoriaLogs,
} from "../observability/servers.ts";
import type { GatewaySettings } from "../envoy/gateway_config.ts";
import { endpointFilesPresent } from "../services/edge/eds_files.ts";
import { writeGatewayConfig } from "../envoy/render_config.ts";
import { type StartedTraceStore, startTraceStore } from "../observability/trace_store.ts";
import { etcdAccessOf, EtcdClient } from "@shop/platform/discovery";
import { waitUntilRouted } from "./routed.ts";
import { describeManaged, type ProgramSpec, type StackRunner } from "./runners.ts";
import type { StackServers } from "./servers.ts";
import { devPorts, envPrefix, type StackService, stackServices } from "./services.ts";

/** What a caller of {@linkcode launchStack} decides: ports, data, how programs run. */
export interface StackSetup<P> {
  /** Holds `ca.crt` and the certificate and key of every identity. */
  readonly certsDir: string;
  /** Where the stack writes its own files: Envoy's configuration and endpoint files. */
  readonly dir: string;
  /** Runs the Deno programs and tells when each is ready. */
  readonly runner: StackRunner<P>;
  /** Starts or borrows the servers (the first part of the stack). */
  servers(): Promise<StackServers>;
  /** The ports of the Stripe simulator and of each service's first instance; `0`: any free one. */
  readonly ports: { readonly stripeSimulator: number; readonly services: Record<StackService, number> };
  /** The gateway's settings, given where the edge bridge writes the endpoint files. */
  gateway(endpointsDir: string): GatewaySettings;
  /**
   * The ports of Mailpit (SMTP, and its UI and API) and of the notification service; any free ones
   * unless set.
   */
  readonly mail?: { readonly smtp: number; readonly http: number; readonly notification: number };
  /** The admin account the user service seeds, which the readiness check signs in with. */
  readonly admin: { readonly email: string; readonly password: string };
  /** The user service's signing keys (`<kid>.pem`). */
  readonly jwtKeysDir: string;
  /** How many product instances to start (1). */
  readonly productInstances?: number;
  /** The lease TTL of every instance in etcd, in ms (the services' default when not set). */
  readonly discoveryTtlMs?: number;
  /** How long a SIGTERMed instance keeps serving after it left etcd, in ms (the services' default). */
  readonly preStopDelayMs?: number;
  /** More environment variables per service. */
  readonly env?: Partial<Record<StackService, Record<string, string>>>;
  /**
   * The services' V8 flags (`DENO_V8_FLAGS`, the notification service's too), in place of what this
   * process's environment passes on: `deno task dev` runs its runner and plumbing with a small young
   * generation and the services with V8's defaults (`scripts/dev`); `""` leaves the variable out (V8's
   * defaults). Inherited when not set.
   */
  readonly serviceV8Flags?: string;
  /**
   * Runs the log store, Prometheus and Alertmanager too, on their dev ports with data under `dir`
   * (`deno task dev`).
   */
  readonly observability?: { readonly dir: string };
  /**
   * Runs the Deno plumbing (the Stripe simulator, the edge bridge, and with observability Envoy's log
   * shipper and Prometheus' target writer) in one process, `plumbing` (`plumbing.ts`), instead of a
   * process each, before the services: for `deno task dev`, whose idle memory counts every runtime.
   * Needs a fixed Stripe simulator port.
   */
  readonly plumbingInOneProcess?: boolean;
  /** The bound on getting the whole stack ready, in ms (120000). */
  readonly readyTimeoutMs?: number;
  /**
   * Runs the trace store (Jaeger) on these ports, with its files under `dir/jaeger`, and has Envoy and
   * every service send it their spans, sampling `sampleRatio` of new traces (0..1; 0 turns the services'
   * and the gateway's tracing off while the store still runs, for the benchmark's other arm).
   */
  readonly traceStore?: {
    readonly otlpHttpPort: number;
    readonly queryPort: number;
    readonly queryGrpcPort: number;
    readonly sampleRatio: number;
  };
  /** Told each part as it starts and once it has started, with the ms since the launch began. */
  onProgress?(event: "starting" | "started", part: string, elapsedMs: number): void;
}

/** A running instance of a service. */
export interface LaunchedInstance<P> {
  readonly service: StackService;
  /** `product-2`: the service and a number counting the instances started of it. */
  readonly name: string;
  /** `https://127.0.0.1:PORT` (mTLS). */
  readonly url: string;
  readonly port: number;
  readonly process: P;
}

/** A running Envoy of the stack. */
export interface LaunchedGateway {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** Envoy's stats listener, `http://127.0.0.1:PORT`: `GET /ready` and `GET /stats/prometheus` only. */
  readonly adminUrl: string;
  /** Envoy's admin API, a Unix socket of mode 0600 (`/clusters`: see `clusterHosts`). */
  readonly adminSocket: string;
  readonly settings: GatewaySettings;
  readonly envoy: StartedEnvoy;
}

/** One line of what `deno task dev` prints once the stack runs. */
export interface SummaryLine {
  readonly name: string;
  readonly url: string;
  /** Where its data lives. */
  readonly data?: string;
}

/** A started stack. Stopping it is its caller's: the runner's group and what the setup cleans up. */
export interface LaunchedStack<P> {
  readonly servers: StackServers;
  /** `http://127.0.0.1:PORT` (`GET /_simulator/state` lists every PaymentIntent and refund). */
  readonly stripeSimulatorUrl: string;
  /** The main gateway. */
  readonly gateway: LaunchedGateway;
  /** Mailpit's UI and API (`GET /api/v1/messages`): every email the shop sent. */
  readonly mailpitUrl: string;
  /** The notification service, `https://127.0.0.1:PORT`. */
  readonly notificationUrl: string;
  /** The dev CA, PEM. */
  readonly ca: string;
  /** Every instance started so far, in start order. */
  readonly instances: readonly LaunchedInstance<P>[];
  /** Every part with its address, for a person. */
  readonly summary: readonly SummaryLine[];
  /** The trace store, when the setup asked for one. */
  readonly traceStore: StartedTraceStore | undefined;
  /** Starts one more instance of a service, registered in etcd like the others. */
  startInstance(service: StackService): Promise<LaunchedInstance<P>>;
  /** Starts another Envoy over the same endpoint files (e.g. with other limits); `name` names its files. */
  startGateway(settings: GatewaySettings, name: string): Promise<LaunchedGateway>;
  /** Waits until the gateway routes to exactly these instances (all of them unless given). */
  waitUntilRouted(
    gateway: LaunchedGateway,
    deadline: number,
    instances?: readonly LaunchedInstance<P>[],
  ): Promise<void>;
}

/** The state of a launch, filled in part by part. */
interface Launch<P> {
  readonly setup: StackSetup<P>;
  readonly endpointsDir: string;
  servers?: StackServers;
  logShipUrl?: string;
  traceStore?: StartedTraceStore;
  stripeSimulatorUrl?: string;
  mailpit?: { smtpUrl: string; apiUrl: string };
  notificationUrl?: string;
  gateway?: LaunchedGateway;
  readonly instances: LaunchedInstance<P>[];
  readonly counters: Map<StackService, number>;
  readonly summary: SummaryLine[];
}

/** One part of the stack: a process, or a few started side by side. */
interface StackPart {
  readonly name: string;
  /** Only with `setup.observability`. */
  readonly observability?: boolean;
  /**
   * `own`: a plumbing program in a process of its own, unless `setup.plumbingInOneProcess`; `together`:
   * the process that runs them all, only then.
   */
  readonly plumbing?: "own" | "together";
  start<P>(launch: Launch<P>): Promise<void>;
}

/** A Deno program of the stack's plumbing, as its own process or beside the others (`plumbing.ts`). */
interface PlumbingProgram {
  /** Whether it runs only with `setup.observability`. */
  readonly observability: boolean;
  /** Its name (the key of `plumbingPrograms`), script and environment in this launch. */
  spec<P>(launch: Launch<P>): ProgramSpec;
  /** Whether it is ready, once started. */
  ready<P>(launch: Launch<P>): Promise<boolean>;
  /** Records what it gives the rest of the stack and its summary line, once ready. */
  started<P>(launch: Launch<P>): void;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the stack's ${what} must start before the parts that use it`);
  return value;
}

/** What each service needs besides what every service gets (port, certificates, discovery, logs). */
const serviceSettings: Record<StackService, {
  /** Its own environment. */
  env<P>(launch: Launch<P>): Promise<Record<string, string>>;
  /** A GET path that answers 200 to the signed-in admin through the gateway once it is routed. */
  probe: string;
}> = {
  user: {
    env: async ({ servers, setup }) => ({
      SHOP_USER_DATABASE_URL: await need(servers, "servers").postgresDatabase("user"),
      SHOP_USER_JWT_KEYS_DIR: setup.jwtKeysDir,
      SHOP_ADMIN_EMAIL: setup.admin.email,
      SHOP_ADMIN_PASSWORD: setup.admin.password,
    }),
    probe: "/v1/users/me",
  },
  product: {
    env: ({ servers }) => {
      const { mongo } = need(servers, "servers");
      return Promise.resolve({
        SHOP_PRODUCT_MONGO_URL: mongo.url,
        ...(mongo.database === undefined ? {} : { SHOP_PRODUCT_MONGO_DATABASE: mongo.database }),
      });
    },
    probe: "/v1/products?pageSize=1",
  },
  order: {
    env: async ({ servers }) => ({
      SHOP_ORDER_DATABASE_URL: await need(servers, "servers").postgresDatabase("order"),
    }),
    probe: "/v1/orders?pageSize=1",
  },
  payment: {
    env: async ({ servers, stripeSimulatorUrl }) => ({
      SHOP_PAYMENT_DATABASE_URL: await need(servers, "servers").postgresDatabase("payment"),
      SHOP_PAYMENT_STRIPE_BASE_URL: need(stripeSimulatorUrl, "Stripe simulator"),
    }),
    // Any order id: an order nobody paid for has no payments, which is a 200 with an empty list.
    probe: `/v1/payments?orderId=${crypto.randomUUID()}`,
  },
  cart: {
    env: ({ servers }) => {
      const { redis } = need(servers, "servers");
      return Promise.resolve({
        SHOP_CART_REDIS_URL: redis.url,
        ...(redis.keyPrefix === undefined ? {} : { SHOP_CART_REDIS_KEY_PREFIX: redis.keyPrefix }),
      });
    },
    probe: "/v1/cart",
  },
};

/** Starts one instance of a service; the first of each takes its setup port, later ones any free port. */
async function startInstance<P>(launch: Launch<P>, service: StackService): Promise<LaunchedInstance<P>> {
  const { setup } = launch;
  const count = (launch.counters.get(service) ?? 0) + 1;
  launch.counters.set(service, count);
  const name = `${service}-${count}`;
  const p = envPrefix(service);
  const { unsetEnv, ...v8Flags } = serviceV8Flags(setup);
  const served = await setup.runner.serve({
    name,
    script: `services/${service}/main.ts`,
    ...(unsetEnv === undefined ? {} : { unsetEnv }),
    port: count === 1 ? setup.ports.services[service] : 0,
    env: {
      // The documented dev defaults (admin account, demo catalog, dev-only secrets) apply.
      SHOP_ENV: "dev",
      [`${p}_SERVER_PORT`]: String(count === 1 ? setup.ports.services[service] : 0),
      [`${p}_TLS_CERTS_DIR`]: setup.certsDir,
      ...discoveryEnv(launch, p, name),
      ...(setup.preStopDelayMs === undefined
        ? {}
        : { [`${p}_SERVER_PRE_STOP_DELAY`]: `${setup.preStopDelayMs}ms` }),
      ...(launch.logShipUrl === undefined ? {} : { SHOP_LOG_SHIP_URL: launch.logShipUrl }),
      ...tracingEnv(launch),
      ...await serviceSettings[service].env(launch),
      ...v8Flags.env,
      ...setup.env?.[service],
    },
  });
  const instance = {
    service,
    name,
    url: `https://127.0.0.1:${served.port}`,
    port: served.port,
    process: served.process,
  };
  launch.instances.push(instance);
  return instance;
}

/**
 * Where the chain registry -> edge bridge -> endpoint file -> Envoy stands for `service`: the instances
 * registered in etcd, the endpoints in its file, and the edge bridge's last log lines.
 */
async function diagnoseRouting<P>(launch: Launch<P>, service: StackService): Promise<string> {
  const servers = need(launch.servers, "servers");
  const lines: string[] = [];
  const registryPrefix = `${servers.discoveryPrefix ?? "/shop/services"}/${service}/`;
  try {
    const etcd = new EtcdClient(
      await etcdAccessOf({ endpoints: [servers.etcdUrl], certsDir: launch.setup.certsDir, identity: "root" }),
    );
    try {
      const { kvs } = await etcd.rangePrefix(registryPrefix);
      const registered = kvs.map((kv) => {
        const record = JSON.parse(kv.value) as { address?: string; port?: number };
        return `${record.address}:${record.port} (lease ${kv.lease ?? "none"})`;
      });
      lines.push(`registered under ${registryPrefix}: [${registered.join(", ")}]`);
    } finally {
      etcd.close();
    }
  } catch (error) {
    lines.push(`the registry could not be read: ${error instanceof Error ? error.message : error}`);
  }
  const file = `${launch.endpointsDir}/${service}.json`;
  try {
    const document = JSON.parse(await Deno.readTextFile(file)) as {
      version_info?: string;
      resources?: Array<
        {
          endpoints?: Array<
            { lb_endpoints?: Array<{ endpoint?: { address?: { socket_address?: unknown } } }> }
          >;
        }
      >;
    };
    const endpoints = (document.resources ?? []).flatMap((r) => r.endpoints ?? []).flatMap((e) =>
      e.lb_endpoints ?? []
    ).map((e) => JSON.stringify(e.endpoint?.address?.socket_address));
    lines.push(`${file} (version ${document.version_info}): [${endpoints.join(", ")}]`);
  } catch (error) {
    lines.push(`${file} could not be read: ${error instanceof Error ? error.message : error}`);
  }
  for (const instance of launch.instances.filter((instance) => instance.service === service)) {
    const described = await launch.setup.runner.describe(instance.process).catch((error) => `${error}`);
    lines.push(`${instance.name} (port ${instance.port}): ${described}`);
  }
  const adminSocket = launch.gateway?.adminSocket;
  if (adminSocket !== undefined) {
    try {
      const { status, body } = await adminRequest(adminSocket, "/clusters");
      const hostLines = body.split("\n").filter((line) =>
        line.startsWith(`${service}::`) && line.includes("::health_flags::")
      );
      lines.push(
        `Envoy's /clusters answered ${status} (${body.length} bytes); ${service}'s hosts: [${
          hostLines.join(", ")
        }]`,
      );
    } catch (error) {
      lines.push(`Envoy's /clusters failed: ${error instanceof Error ? error.message : error}`);
    }
  }
  for (const name of ["edge", "plumbing", "envoy"]) {
    const process = launch.setup.runner.group.processes.find((process) => process.name === name);
    if (process !== undefined) lines.push(`${name}: ${await describeManaged(process)}`);
  }
  return lines.join("\n");
}

/**
 * The services' `DENO_V8_FLAGS` as their process spec says it: set, left out of the environment they
 * inherit (`""`: V8's defaults), or inherited (not set in the setup).
 */
function serviceV8Flags<P>(
  setup: StackSetup<P>,
): Pick<ProgramSpec, "unsetEnv"> & { env: Record<string, string> } {
  const flags = setup.serviceV8Flags;
  if (flags === undefined) return { env: {} };
  return flags === "" ? { env: {}, unsetEnv: ["DENO_V8_FLAGS"] } : { env: { DENO_V8_FLAGS: flags } };
}

/**
 * The environment that has a service (keys under `prefix`: `SHOP_ORDER`) register in the stack's etcd as
 * `instanceId`. The id is the stack's name for the instance, so it stays the same after a restart and
 * Prometheus keeps one series per instance instead of a new set each start.
 */
function discoveryEnv<P>(launch: Launch<P>, prefix: string, instanceId: string): Record<string, string> {
  const { setup } = launch;
  const servers = need(launch.servers, "servers");
  return {
    [`${prefix}_DISCOVERY_ENABLED`]: "true",
    [`${prefix}_DISCOVERY_ETCD`]: servers.etcdUrl,
    [`${prefix}_DISCOVERY_INSTANCE_ID`]: instanceId,
    ...(servers.discoveryPrefix === undefined
      ? {}
      : { [`${prefix}_DISCOVERY_PREFIX`]: servers.discoveryPrefix }),
    ...(setup.discoveryTtlMs === undefined
      ? {}
      : { [`${prefix}_DISCOVERY_TTL`]: `${setup.discoveryTtlMs}ms` }),
  };
}

/** The environment that has a service send its spans to the stack's trace store (none without one). */
function tracingEnv<P>(launch: Launch<P>): Record<string, string> {
  const { traceStore } = launch;
  const sampleRatio = launch.setup.traceStore?.sampleRatio ?? 0;
  if (traceStore === undefined || sampleRatio === 0) return {};
  return { SHOP_TRACING_ENDPOINT: traceStore.otlpHttpUrl, SHOP_TRACING_SAMPLE_RATIO: String(sampleRatio) };
}

/** Renders a gateway's configuration into the stack's directory and starts Envoy on it. */
async function startGateway<P>(launch: Launch<P>, given: GatewaySettings, name: string) {
  const configPath = `${launch.setup.dir}/${name}.json`;
  // Each gateway of the stack has its own admin socket beside its configuration.
  const sampleRatio = launch.setup.traceStore?.sampleRatio ?? 0;
  const socketed = { ...given, adminSocket: `${launch.setup.dir}/${name}-admin.sock` };
  const settings: GatewaySettings = given.tracing === undefined && launch.traceStore && sampleRatio > 0
    ? {
      ...socketed,
      tracing: { otlpHttpUrl: launch.traceStore.otlpHttpUrl, samplePercent: sampleRatio * 100 },
    }
    : socketed;
  await writeGatewayConfig(settings, configPath);
  const envoy = await startEnvoy(launch.setup.runner.group, {
    configPath,
    statsPort: settings.statsPort,
    adminSocket: settings.adminSocket,
    name,
  });
  return {
    url: `https://127.0.0.1:${settings.port}`,
    adminUrl: envoy.adminUrl,
    adminSocket: settings.adminSocket,
    settings,
    envoy,
  };
}

async function fileExists(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => undefined))?.isFile === true;
}

/** The stack's plumbing programs, each in a process of its own (`runOnItsOwn`) or all in one (`plumbing.ts`). */
const plumbing = {
  stripeSimulator: {
    observability: false,
    spec: (launch) => {
      const { setup } = launch;
      return {
        name: "stripe-simulator",
        script: "services/payment/stripe_simulator/main.ts",
        env: {
          SHOP_STRIPE_SIMULATOR_SERVER_PORT: String(setup.ports.stripeSimulator),
          SHOP_STRIPE_SIMULATOR_UPSTREAM_URL: need(launch.servers, "servers").stripeMockUrl,
          // Webhooks arrive as Stripe's would: through the gateway, which passes the raw body on.
          SHOP_STRIPE_SIMULATOR_WEBHOOK_URL: `https://127.0.0.1:${
            setup.gateway(launch.endpointsDir).port
          }/v1/webhooks/stripe`,
          SHOP_STRIPE_SIMULATOR_WEBHOOK_CERTS_DIR: setup.certsDir,
        },
      };
    },
    ready: (launch) => acceptsConnections(launch.setup.ports.stripeSimulator),
    started: (launch) => {
      launch.stripeSimulatorUrl ??= `http://127.0.0.1:${launch.setup.ports.stripeSimulator}`;
      launch.summary.push({ name: "stripe-simulator", url: launch.stripeSimulatorUrl });
    },
  },
  edge: {
    observability: false,
    spec: (launch) => {
      const servers = need(launch.servers, "servers");
      return {
        name: "edge",
        script: "services/edge/main.ts",
        env: {
          SHOP_EDGE_ENDPOINTS_DIR: launch.endpointsDir,
          SHOP_EDGE_ETCD_URL: servers.etcdUrl,
          SHOP_EDGE_ETCD_CERTS_DIR: launch.setup.certsDir,
          ...(servers.discoveryPrefix === undefined
            ? {}
            : { SHOP_EDGE_ETCD_PREFIX: servers.discoveryPrefix }),
        },
      };
    },
    // Ready once it has written every file Envoy reads, before the gateway's part creates any missing one.
    ready: (launch) => endpointFilesPresent(launch.endpointsDir, stackServices),
    started: (launch) => {
      launch.summary.push({ name: "edge", url: `${launch.endpointsDir}  (Envoy's endpoint files)` });
    },
  },
  envoyLogShipper: {
    // Envoy's JSON access log goes to its stdout, which the group writes to its log file: ship from there.
    observability: true,
    spec: (launch) => ({
      name: "envoy-log-shipper",
      script: "observability/ship_file.ts",
      env: {
        // Before Envoy starts (in one process with the others), where the group will write the output of
        // its process `envoy` (ProcessGroup: `<dir>/logs/<name>.log`); the shipper waits for the file.
        SHOP_SHIP_FILE_FILE: launch.gateway?.envoy.process.logFile ??
          `${launch.setup.runner.group.dir}/logs/envoy.log`,
        SHOP_SHIP_FILE_SERVICE: "envoy",
        SHOP_LOG_SHIP_URL: need(launch.logShipUrl, "log store"),
      },
    }),
    ready: () => Promise.resolve(true),
    started: () => {},
  },
  prometheusTargets: {
    // Prometheus' targets: the registry, written as file_sd JSON, kept current from etcd.
    observability: true,
    spec: (launch) => {
      const servers = need(launch.servers, "servers");
      return {
        name: "prometheus-targets",
        script: "observability/prometheus_targets.ts",
        env: {
          SHOP_TARGETS_OUT: targetsFile(launch),
          SHOP_ETCD_ENDPOINTS: servers.etcdUrl,
          SHOP_TARGETS_CERTS_DIR: launch.setup.certsDir,
          ...(servers.discoveryPrefix === undefined ? {} : { SHOP_TARGETS_PREFIX: servers.discoveryPrefix }),
          SHOP_LOG_SHIP_URL: need(launch.logShipUrl, "log store"),
        },
      };
    },
    ready: (launch) => fileExists(targetsFile(launch)),
    started: () => {},
  },
} satisfies Record<string, PlumbingProgram>;

/** Where Prometheus reads its targets from (`file_sd`). */
function targetsFile<P>(launch: Launch<P>): string {
  return `${need(launch.setup.observability, "observability settings").dir}/prometheus/targets.json`;
}

/** Runs a plumbing program in a process of its own. */
async function runOnItsOwn<P>(launch: Launch<P>, program: PlumbingProgram): Promise<void> {
  await launch.setup.runner.run(program.spec(launch), () => program.ready(launch));
  program.started(launch);
}

/**
 * The parts of the stack, in start order.
 *
 * @example
 * ```ts ignore
 * stackParts.map((part) => part.name); // ["servers", "victoria-logs", "stripe-simulator", ...]
 * ```
 */
export const stackParts: readonly StackPart[] = [
  {
    name: "servers",
    start: async (launch) => {
      launch.servers = await launch.setup.servers();
      launch.summary.push(...launch.servers.summary);
    },
  },
  {
    // First of the shop's own processes: every service ships its log lines here from its first line.
    name: "victoria-logs",
    observability: true,
    start: async (launch) => {
      const dir = need(launch.setup.observability, "observability settings").dir;
      const logs = await startVictoriaLogs(launch.setup.runner.group, {
        port: devPorts.logs,
        dataDir: `${dir}/victoria-logs`,
      });
      launch.logShipUrl = logs.bulkUrl;
      launch.summary.push({
        name: "victoria-logs",
        url: `${logs.url}/select/vmui/  (logs UI)`,
        data: `${dir}/victoria-logs`,
      });
    },
  },
  {
    // Before every process that sends spans.
    name: "trace-store",
    start: async (launch) => {
      const ports = launch.setup.traceStore;
      if (ports === undefined) return;
      const store = await startTraceStore(launch.setup.runner.group, {
        dir: `${launch.setup.dir}/jaeger`,
        ...ports,
      });
      launch.traceStore = store;
      launch.summary.push({ name: "jaeger", url: `${store.queryUrl}  (traces: UI and /api/traces/<id>)` });
    },
  },
  {
    // With `plumbingInOneProcess`: the simulator, the edge bridge, the log shipper and the target
    // writer in one process, before the services (the simulator's port is fixed; the bridge and the
    // target writer follow etcd from any point; the shipper waits for Envoy's log file).
    name: "plumbing",
    plumbing: "together",
    start: async (launch) => {
      const { setup } = launch;
      if (setup.ports.stripeSimulator === 0) {
        throw new Error("the plumbing process needs a fixed simulator port");
      }
      const programs = Object.values(plumbing).filter((program) =>
        !program.observability || setup.observability !== undefined
      );
      const specs = programs.map((program) => program.spec(launch));
      // `plumbing.ts` runs the programs this names (its PROGRAMS_ENV; not imported, which would load
      // every program's code into this process).
      const env: Record<string, string> = {
        SHOP_PLUMBING_PROGRAMS: specs.map((spec) => spec.name).join(","),
      };
      for (const spec of specs) {
        for (const [key, value] of Object.entries(spec.env)) {
          if (key in env && env[key] !== value) throw new Error(`plumbing: ${key} differs between programs`);
          env[key] = value;
        }
      }
      await setup.runner.run(
        { name: "plumbing", script: "stack/plumbing.ts", env },
        async () => (await Promise.all(programs.map((program) => program.ready(launch)))).every(Boolean),
      );
      for (const program of programs) program.started(launch);
    },
  },
  {
    name: "stripe-simulator",
    plumbing: "own",
    start: async (launch) => {
      const served = await launch.setup.runner.serve({
        ...plumbing.stripeSimulator.spec(launch),
        port: launch.setup.ports.stripeSimulator,
      });
      launch.stripeSimulatorUrl = `http://127.0.0.1:${served.port}`;
      plumbing.stripeSimulator.started(launch);
    },
  },
  {
    // The mail catcher: every email the notification service sends, in its UI and API.
    name: "mailpit",
    start: async (launch) => {
      const { setup } = launch;
      const database = `${setup.dir}/mailpit.db`;
      const mailpit = setup.mail === undefined
        ? await withFreePorts(
          2,
          ([smtp = 0, http = 0]) =>
            startMailpit(setup.runner.group, { smtpPort: smtp, httpPort: http, database }),
        )
        : await startMailpit(setup.runner.group, {
          smtpPort: setup.mail.smtp,
          httpPort: setup.mail.http,
          database,
        });
      launch.mailpit = mailpit;
      launch.summary.push({
        name: "mailpit",
        url: `${mailpit.apiUrl}  (SMTP ${mailpit.smtpUrl})`,
        data: database,
      });
    },
  },
  {
    name: "services",
    start: async (launch) => {
      const instances = await Promise.all(
        stackServices.flatMap((service) =>
          Array.from(
            { length: service === "product" ? launch.setup.productInstances ?? 1 : 1 },
            () => startInstance(launch, service),
          )
        ),
      );
      for (const instance of instances) launch.summary.push({ name: instance.name, url: instance.url });
    },
  },
  {
    // Internal only (the order service's relay pushes order events to it), so not a gateway upstream.
    name: "notification",
    start: async (launch) => {
      const { setup } = launch;
      const servers = need(launch.servers, "servers");
      const port = setup.mail?.notification ?? 0;
      const { unsetEnv, ...v8Flags } = serviceV8Flags(setup);
      const served = await setup.runner.serve({
        name: "notification-1",
        script: "services/notification/main.ts",
        ...(unsetEnv === undefined ? {} : { unsetEnv }),
        port,
        env: {
          SHOP_ENV: "dev",
          SHOP_NOTIFICATION_SERVER_PORT: String(port),
          SHOP_NOTIFICATION_TLS_CERTS_DIR: setup.certsDir,
          ...discoveryEnv(launch, "SHOP_NOTIFICATION", "notification-1"),
          ...(launch.logShipUrl === undefined ? {} : { SHOP_LOG_SHIP_URL: launch.logShipUrl }),
          SHOP_NOTIFICATION_DATABASE_URL: await servers.postgresDatabase("notification"),
          SHOP_NOTIFICATION_SMTP_URL: need(launch.mailpit, "Mailpit").smtpUrl,
          ...v8Flags.env,
        },
      });
      launch.notificationUrl = `https://127.0.0.1:${served.port}`;
      launch.summary.push({ name: "notification-1", url: launch.notificationUrl });
    },
  },
  {
    name: "edge",
    plumbing: "own",
    start: (launch) => runOnItsOwn(launch, plumbing.edge),
  },
  {
    name: "envoy",
    start: async (launch) => {
      const gateway = await startGateway(launch, launch.setup.gateway(launch.endpointsDir), "envoy");
      launch.gateway = gateway;
      launch.summary.push({
        name: "envoy",
        url: `${gateway.url}  (stats ${gateway.adminUrl}, admin ${gateway.adminSocket})`,
      });
    },
  },
  {
    name: "envoy-log-shipper",
    observability: true,
    plumbing: "own",
    start: (launch) => runOnItsOwn(launch, plumbing.envoyLogShipper),
  },
  {
    name: "prometheus-targets",
    observability: true,
    plumbing: "own",
    start: (launch) => runOnItsOwn(launch, plumbing.prometheusTargets),
  },
  {
    name: "alertmanager",
    observability: true,
    start: async (launch) => {
      const dataDir = `${need(launch.setup.observability, "observability settings").dir}/alertmanager`;
      const alertmanager = await startAlertmanager(launch.setup.runner.group, {
        port: devPorts.alertmanager,
        dataDir,
      });
      launch.summary.push({
        name: "alertmanager",
        url: `${alertmanager.url}  (API: /api/v2/alerts)`,
        data: dataDir,
      });
    },
  },
  {
    name: "prometheus",
    observability: true,
    start: async (launch) => {
      const dir = `${need(launch.setup.observability, "observability settings").dir}/prometheus`;
      const prometheus = await startPrometheus(launch.setup.runner.group, {
        port: devPorts.prometheus,
        dataDir: dir,
        config: prometheusConfig({
          scrapeInterval: "5s",
          targetsFile: `${dir}/targets.json`,
          certsDir: launch.setup.certsDir,
          envoyTargets: [new URL(need(launch.gateway, "gateway").adminUrl).host],
          alertmanagers: [`127.0.0.1:${devPorts.alertmanager}`],
        }),
      });
      launch.summary.push({
        name: "prometheus",
        url: `${prometheus.url}  (alerts: /alerts, targets: /targets)`,
        data: `${dir}/data`,
      });
    },
  },
];

/**
 * Starts every part of the stack in order and waits until the gateway routes to every service. On a
 * failure it throws an error naming what did not start or was not ready; stopping what did start is the
 * caller's (its runner's group, its setup's data).
 *
 * @example The dev stack
 * ```ts ignore
 * const group = await ProcessGroup.create({ dir: ".local/run" });
 * const stack = await launchStack({ runner: groupRunner(group), servers: () => startDevServers(group, ".local"), ... });
 * console.log(stack.gateway.url);
 * ```
 */
export async function launchStack<P>(setup: StackSetup<P>): Promise<LaunchedStack<P>> {
  const started = Date.now();
  const launch: Launch<P> = {
    setup,
    endpointsDir: `${setup.dir}/endpoints`,
    instances: [],
    counters: new Map(),
    summary: [],
  };
  const together = setup.plumbingInOneProcess === true;
  for (const part of stackParts) {
    if (part.observability === true && setup.observability === undefined) continue;
    if (part.plumbing === (together ? "own" : "together")) continue;
    setup.onProgress?.("starting", part.name, Date.now() - started);
    await part.start(launch);
    setup.onProgress?.("started", part.name, Date.now() - started);
  }
  const ca = await Deno.readTextFile(`${setup.certsDir}/ca.crt`);
  const probes = Object.fromEntries(
    stackServices.map((service) => [service, serviceSettings[service].probe]),
  ) as Record<StackService, string>;
  const stack: LaunchedStack<P> = {
    servers: need(launch.servers, "servers"),
    stripeSimulatorUrl: need(launch.stripeSimulatorUrl, "Stripe simulator"),
    gateway: need(launch.gateway, "gateway"),
    mailpitUrl: need(launch.mailpit, "Mailpit").apiUrl,
    notificationUrl: need(launch.notificationUrl, "notification service"),
    ca,
    instances: launch.instances,
    summary: launch.summary,
    traceStore: launch.traceStore,
    startInstance: (service) => startInstance(launch, service),
    startGateway: (settings, name) => startGateway(launch, settings, name),
    waitUntilRouted: (gateway, deadline, instances = launch.instances) => {
      const ports = Object.fromEntries(stackServices.map((service) => [
        service,
        instances.filter((instance) => instance.service === service).map((instance) => instance.port),
      ])) as Record<StackService, number[]>;
      return waitUntilRouted({
        gateway,
        ca,
        admin: setup.admin,
        probes,
        ports,
        deadline,
        diagnose: (service) => diagnoseRouting(launch, service),
      });
    },
  };
  await stack.waitUntilRouted(stack.gateway, started + (setup.readyTimeoutMs ?? 120_000));
  setup.onProgress?.("started", "routed", Date.now() - started);
  return stack;
}
