/**
 * Keeps Prometheus' scrape targets in step with the service registry: follows etcd with the kit's
 * resolver and rewrites a `file_sd` JSON file (atomically: a temporary file in the same directory, then a
 * rename, which Prometheus' file watcher picks up at once) after every change. No target list is ever
 * written by hand: an instance that registers is scraped within a second, one that leaves (SIGTERM) or
 * whose lease expires (SIGKILL) is dropped.
 *
 * Why a program of its own and not part of `services/edge`: the file must be on Prometheus' machine, the
 * EDS files on Envoy's; Prometheus must keep its targets while the gateway is down or redeployed; and
 * every registered service is a target, not only the four the gateway routes to.
 *
 * As a program: `deno run -A observability/prometheus_targets.ts --out=.local/prometheus/targets.json`
 * (env prefix `SHOP_TARGETS`; the etcd endpoints also from `SHOP_ETCD_ENDPOINTS`).
 *
 * @module
 */
import { loadConfigOrExit, string, stringList } from "@shop/platform/config";
import { createResolver, type Endpoint, etcdAccessOf, type Resolver } from "@shop/platform/discovery";
import { logConfigSchema, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";

/** One `file_sd` entry: a target and its labels. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The `file_sd` groups of the registry's endpoints: one per instance, labelled with its service, its
 * instance id and its metrics path (`__metrics_path__`), sorted so an unchanged registry writes the
 * same file.
 *
 * @example
 * ```ts ignore
 * targetGroups(resolver.services()); // [{ targets: ["127.0.0.1:50051"], labels: { service: "user", ... } }]
 * ```
 */
export function targetGroups(services: ReadonlyMap<string, readonly Endpoint[]>): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const [service, endpoints] of services) {
    for (const endpoint of endpoints) {
      const host = endpoint.address.includes(":") ? `[${endpoint.address}]` : endpoint.address;
      groups.push({
        targets: [`${host}:${endpoint.port}`],
        labels: {
          service,
          instance_id: endpoint.instanceId,
          version: endpoint.version,
          __metrics_path__: endpoint.metricsPath || "/metrics",
          // Services without TLS (plaintext test servers) are scraped over http.
          __scheme__: endpoint.tls ? "https" : "http",
        },
      });
    }
  }
  return groups.sort((a, b) => (a.targets[0] ?? "").localeCompare(b.targets[0] ?? ""));
}

/** Writes `content` to `path` by a rename, so a reader never sees half a file. */
export async function writeAtomically(path: string, content: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const temporary = `${dir}/.${path.slice(slash + 1)}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(temporary, content);
  await Deno.rename(temporary, path);
}

/** A running writer. */
export interface TargetsWriter extends AsyncDisposable {
  /** The groups last written. */
  readonly groups: readonly TargetGroup[];
  /** Stops following the registry; the file stays as it is. */
  close(): Promise<void>;
}

/**
 * Follows the registry under `prefix` and writes `out` now and after every change (serialized; a burst
 * of changes is written once, with the latest state).
 *
 * @example
 * ```ts ignore
 * await using writer = await startTargetsWriter({
 *   etcd: ["http://127.0.0.1:2379"],
 *   prefix: "/shop/services",
 *   out: ".local/prometheus/targets.json",
 * });
 * ```
 */
export async function startTargetsWriter(
  options: { etcd: readonly string[]; prefix: string; out: string; certsDir?: string },
): Promise<TargetsWriter> {
  const log = serviceLogger("targets");
  const resolver: Resolver = createResolver({
    etcd: await etcdAccessOf({
      endpoints: options.etcd,
      certsDir: options.certsDir ?? "",
      identity: "prometheus",
    }),
    prefix: options.prefix,
  });
  let groups: TargetGroup[] = [];
  let written = "";
  let running: Promise<void> = Promise.resolve();
  const write = () => {
    running = running.then(async () => {
      groups = targetGroups(resolver.services());
      const content = `${JSON.stringify(groups, null, 2)}\n`;
      if (content === written) return;
      await writeAtomically(options.out, content);
      written = content;
      log.info("Wrote {count} scrape targets: {targets}", {
        count: groups.length,
        targets: groups.map((g) => `${g.labels.service}=${g.targets[0]}`),
      });
    }).catch((error) => log.error("Writing the scrape targets failed: {error}", { error }));
    return running;
  };
  const unsubscribe = resolver.onChange(() => void write());
  try {
    await resolver.ready(10_000);
  } catch (error) {
    // etcd down at start: keep trying in the background (the resolver retries); the file keeps what it had.
    log.warn("The registry is not readable yet, targets follow once it is: {error}", { error });
  }
  await write();
  const close = async () => {
    unsubscribe();
    await resolver.close();
    await running;
  };
  return {
    get groups() {
      return groups;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The program's configuration (env prefix `SHOP_TARGETS`; the etcd endpoints also from
 * `SHOP_ETCD_ENDPOINTS`): what {@linkcode startTargetsWriter} takes, and the log settings.
 *
 * @example
 * ```ts ignore
 * const config = loadConfigOrExit(targetsConfigSchema, { envPrefix: "SHOP_TARGETS", args: Deno.args });
 * ```
 */
export const targetsConfigSchema = {
  out: string({ minLength: 1 }),
  etcd: stringList({ default: ["http://127.0.0.1:2379"], env: ["SHOP_ETCD_ENDPOINTS"] }),
  prefix: string({ default: "/shop/services", pattern: /^\/[A-Za-z0-9/_.-]*$/ }),
  /** For an `https://` etcd: the CA, the `prometheus` certificate and `etcd/prometheus.password`. */
  certsDir: string({ default: "" }),
  log: logConfigSchema(),
};

if (import.meta.main) {
  const config = loadConfigOrExit(targetsConfigSchema, { envPrefix: "SHOP_TARGETS", args: Deno.args });
  await setupLogging({
    service: "prometheus-targets",
    instance: `targets-${crypto.randomUUID().slice(0, 8)}`,
    level: config.log.level,
    ship: shipOptionsOf(config.log),
  });
  const writer = await startTargetsWriter(config);
  const stop = async () => {
    await writer.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
