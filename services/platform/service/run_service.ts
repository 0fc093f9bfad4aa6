/**
 * The start-up and shutdown every shop service shares, so that its `main.ts` holds only its own wiring:
 * configuration, logging, metrics, the PostgreSQL pool and its migrations, the server, discovery,
 * periodic jobs, signals and the order of shutdown.
 *
 * @module
 */
import type { Logger, LogLevel } from "@logtape/logtape";
import type { Sql } from "postgres";
import type { Field } from "../config/fields.ts";
import { type ConfigOf, describeConfig, loadConfigOrExit, type Schema } from "../config/load_config.ts";
import type { Mode, ServerConfigSchema, TlsConfigSchema } from "../config/service_schemas.ts";
import { type ClosableTransport, createServiceTransport } from "../client/service_transport.ts";
import { createDiscoveryTransport } from "../discovery/discovery_transport.ts";
import { withFixedUrlRetries } from "../discovery/fixed_url_retries.ts";
import { EtcdClient, type EtcdOptions } from "../discovery/etcd_client.ts";
import { createResolver, type Resolver } from "../discovery/resolver.ts";
import {
  type DiscoveryConfigSchema,
  discoveryRefusal,
  joinDiscovery,
  serviceEtcdAccess,
} from "../discovery/service_discovery.ts";
import { type LogConfig, shipOptionsOf } from "../log/log_config.ts";
import { flushLogs, serviceLogger, setupLogging } from "../log/logging.ts";
import { createServiceMetrics, type ServiceMetrics } from "../metrics/service_metrics.ts";
import { connectPostgres } from "../postgres/connect_postgres.ts";
import { migrate, readMigrations } from "../postgres/migrate.ts";
import {
  type RunningServer,
  type ServerOptions,
  startServer,
  stopOnSignals,
} from "../server/start_server.ts";
import { readTlsFiles, type TlsFiles } from "../tls/tls_files.ts";
import { type ProcessTracing, setupTracing, tracingEnv } from "../tracing/tracing.ts";
import { type PeriodicJob, startPeriodicJob } from "./periodic_job.ts";

/** What {@linkcode startProcess} needs: a schema with at least `log.level`. */
export interface ProcessDefinition<S extends Schema> {
  /** The process' name in logs: `user`, `edge`. */
  service: string;
  /** Its configuration schema. */
  schema: S;
  /** The prefix of its environment variables; `SHOP_<SERVICE>` unless set. */
  envPrefix?: string;
  /** Checks across keys the schema cannot express: a message ends the start with status 2. */
  check?: (config: ConfigOf<S>) => string | undefined;
}

/** What {@linkcode startProcess} gives. */
export interface StartedProcess<C> {
  /** The loaded, validated configuration. */
  readonly config: C;
  /** `user-1a2b3c4d`: the service and a random suffix, on every log line and in the registry. */
  readonly instanceId: string;
  /** The `main` logger. */
  readonly log: Logger;
  /** Its tracing, when `SHOP_TRACING_ENDPOINT` is set (see `tracingEnv`). */
  readonly tracing: ProcessTracing | undefined;
}

/** A schema whose `log` group has at least a level (and, for shipping, the kit's `log.ship` keys). */
type WithLogLevel = Schema & { readonly log: Schema & { readonly level: Field<LogLevel> } };

/**
 * The first steps of every process of the shop: loads its configuration (a bad or unknown key ends it
 * with status 2 and one line on stderr), sets up JSON logging (shipped to the log store when `log.ship`
 * says so) and logs the configuration it starts with, secrets masked.
 *
 * @example
 * ```ts ignore
 * const { config, log } = await startProcess({ service: "edge", schema: edgeConfigSchema });
 * ```
 */
export async function startProcess<S extends WithLogLevel>(
  definition: ProcessDefinition<S>,
): Promise<StartedProcess<ConfigOf<S>>> {
  const { service, schema } = definition;
  const config = loadConfigOrExit(schema, {
    envPrefix: definition.envPrefix ?? `SHOP_${service.toUpperCase()}`,
    args: Deno.args,
  });
  const problem = definition.check?.(config);
  if (problem !== undefined) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${problem}\n`));
    Deno.exit(2);
  }
  const instanceId = `${service}-${crypto.randomUUID().slice(0, 8)}`;
  const logConfig = config.log as { level: LogLevel; ship?: LogConfig["ship"] };
  await setupLogging({
    service,
    instance: instanceId,
    level: logConfig.level,
    ship: logConfig.ship === undefined ? undefined : shipOptionsOf({ level: "info", ship: logConfig.ship }),
  });
  const log = serviceLogger("main");
  log.info("Starting with {config}", { config: describeConfig(schema, config) });
  const tracingSettings = tracingEnv(Deno.env.toObject());
  const tracing = setupTracing({ service, instance: instanceId, ...tracingSettings });
  if (tracing) {
    log.info("Tracing to {endpoint}, sampling {ratio}", {
      ...tracingSettings,
      ratio: tracingSettings.sampleRatio,
    });
  }
  return { config, instanceId, log, tracing };
}

/** The configuration groups every service has, whatever else it has. */
export type ServiceSchema = WithLogLevel & {
  readonly mode: Field<Mode>;
  readonly server: ServerConfigSchema;
  readonly tls: TlsConfigSchema;
  readonly discovery: DiscoveryConfigSchema;
};

/** The kit's parts a service builds itself from, in {@linkcode ServiceDefinition.setup}. */
export interface ServiceKit<C> extends StartedProcess<C> {
  /** The service's metrics registry, served at `/metrics`: add its own counters to `metrics.registry`. */
  readonly metrics: ServiceMetrics;
  /** The service's own certificate, key and CA (`tls.certsDir`). */
  readonly tls: TlsFiles;
  /** How this service reaches etcd as itself (its certificate and etcd user over `https://`). */
  readonly etcd: EtcdOptions;
  /**
   * A transport to another service: at `fixedUrl` when it is not empty, else to every live instance of
   * `service` found in the registry (one resolver per process, made at the first such call). Either way
   * the callee must prove it is `service` (its certificate's URI SAN). Closed at shutdown.
   */
  transportTo(service: string, fixedUrl: string): ClosableTransport;
  /**
   * Opens the PostgreSQL pool of `config.database` (`url`, `maxConnections`) and applies the migrations
   * in `migrations` (a folder of numbered `.sql` files); the pool closes last at shutdown.
   */
  postgres(migrations: URL): Promise<Sql>;
  /**
   * Runs `run` every `intervalMs` until shutdown: no new run once the service leaves the registry, and
   * the run in progress ends before anything closes.
   */
  every(name: string, intervalMs: number, run: () => Promise<void>): void;
  /** Runs at shutdown, once in-flight calls have drained and jobs have ended; hooks run in the order added. */
  onClose(hook: () => unknown): void;
}

/** What a service serves: its routes and who may call them. */
export type ServiceParts = Pick<ServerOptions, "routes" | "allowedPeers" | "interceptors" | "httpRoutes">;

/** A service for {@linkcode runService}. */
export interface ServiceDefinition<S extends ServiceSchema> extends ProcessDefinition<S> {
  /** Builds the service's adapters and domain from its configuration and the kit; returns what to serve. */
  setup(kit: ServiceKit<ConfigOf<S>>): Promise<ServiceParts> | ServiceParts;
}

/**
 * Runs a service: {@linkcode startProcess}, then the service's own `setup`, then the server (mTLS with the
 * service's certificate, health, reflection, metrics; `server.*` keys), registration in etcd (`discovery.*`)
 * and a graceful stop on SIGTERM or SIGINT: leave the registry, stop the periodic jobs, drain in-flight
 * calls, wait for a job's run in progress, run the `onClose` hooks, close the pools, flush the logs.
 *
 * @example
 * ```ts ignore
 * await runService({
 *   service: "product",
 *   schema: productConfigSchema,
 *   setup: async ({ config, every }) => {
 *     const inventory = new Inventory({ store: await openStore(config) });
 *     every("sweeper", config.inventory.sweepInterval, () => inventory.sweep().then(() => {}));
 *     return { routes: productRoutes(inventory), allowedPeers: inventoryAllowedPeers };
 *   },
 * });
 * ```
 */
export async function runService<S extends ServiceSchema>(
  definition: ServiceDefinition<S>,
): Promise<RunningServer> {
  const started = await startProcess(definition);
  const config = started.config as ConfigOf<S> & ConfigOf<ServiceSchema>;
  const { service } = definition;
  const jobs: PeriodicJob[] = [];
  const closeHooks: Array<() => unknown> = [];
  const pools: Sql[] = [];
  const refusal = discoveryRefusal(config.mode, config.discovery);
  if (refusal !== undefined) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${refusal}\n`));
    Deno.exit(2);
  }
  const tls = await readTlsFiles(config.tls.certsDir, service);
  const etcd = await serviceEtcdAccess(config.discovery, config.tls.certsDir, service);
  // One client (one sign-in, one token) for the registration and the resolver.
  const etcdClient = new EtcdClient(etcd);
  let resolver: Resolver | undefined;
  const transports: ClosableTransport[] = [];
  const kit: ServiceKit<ConfigOf<S>> = {
    ...started,
    metrics: createServiceMetrics(service),
    tls,
    etcd,
    transportTo: (callee, fixedUrl) => {
      let transport: ClosableTransport;
      // A fixed URL retries what is safe to retry, as the discovery transport does (on the same address).
      if (fixedUrl !== "") {
        transport = withFixedUrlRetries(createServiceTransport({ baseUrl: fixedUrl, tls, identity: callee }));
      } else {
        resolver ??= createResolver({ etcd: etcdClient, prefix: config.discovery.prefix });
        transport = createDiscoveryTransport({ resolver, service: callee, tls });
      }
      transports.push(transport);
      return transport;
    },
    postgres: async (migrations) => {
      const database = (config as { database?: { url: string; maxConnections: number } }).database;
      if (database === undefined) {
        throw new Error(`${service}: a PostgreSQL pool needs a database group in the schema`);
      }
      const sql = connectPostgres({
        url: database.url,
        applicationName: service,
        maxConnections: database.maxConnections,
      });
      pools.push(sql);
      await migrate(sql, await readMigrations(migrations));
      return sql;
    },
    every: (name, intervalMs, run) => void jobs.push(startPeriodicJob(name, intervalMs, run)),
    onClose: (hook) => void closeHooks.push(hook),
  };
  const parts = await definition.setup(kit);
  const server = await startServer({
    service,
    host: config.server.host,
    port: config.server.port,
    transport: { tls: kit.tls },
    metrics: kit.metrics,
    shutdownGraceMs: config.server.shutdownGrace,
    preStopDelayMs: config.server.preStopDelay,
    maxInFlight: config.server.maxInFlight,
    ...parts,
  });
  // No new run once the service leaves the registry; a run in progress may still use the pools.
  server.onShutdown("deregister", () => void Promise.all(jobs.map((job) => job.stop())));
  server.onShutdown("close", async () => {
    await Promise.all(jobs.map((job) => job.stop()));
    for (const hook of closeHooks) await hook();
    for (const transport of transports) transport.close();
    await resolver?.close();
    etcdClient.close();
    for (const sql of pools) await sql.end({ timeout: 5 });
    await kit.tracing?.shutdown();
    await flushLogs();
  });
  await joinDiscovery(server, config.discovery, etcdClient, service);
  stopOnSignals(server);
  return server;
}
