/**
 * Prometheus, Alertmanager and VictoriaLogs for the dev stack and the tests: where their binaries are
 * (the tool cache `scripts/setup` fills, versions from `scripts/lib/versions.env`), Prometheus'
 * configuration as data, and starters that run each in a {@linkcode ProcessGroup} until it is ready.
 *
 * @module
 */
import { type ManagedProcess, type ProcessGroup, toolsDir, waitUntil } from "@shop/platform/testing";

const here = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const versionsFile = new URL("../scripts/lib/versions.env", import.meta.url);

/** The observability tools `scripts/setup` installs, with their version keys. */
const tools = {
  prometheus: "PROMETHEUS_VERSION",
  alertmanager: "ALERTMANAGER_VERSION",
  "victoria-logs": "VICTORIA_LOGS_VERSION",
  jaeger: "JAEGER_VERSION",
} as const;

/**
 * The real path of an installed observability binary, or an error that says to run the setup.
 *
 * @example
 * ```ts ignore
 * observabilityTool("prometheus", "promtool"); // "/usr/bin/promtool"
 * ```
 */
export function observabilityTool(tool: keyof typeof tools, binary: string): string {
  const key = tools[tool];
  const line = Deno.readTextFileSync(versionsFile).split("\n").find((l) => l.startsWith(`${key}=`));
  const version = line?.slice(key.length + 1).trim();
  if (!version) throw new Error(`${key} is missing from ${versionsFile.pathname}`);
  const path = `${toolsDir()}/${tool}-${version}/bin/${binary}`;
  try {
    return Deno.realPathSync(path);
  } catch {
    throw new Error(`${tool} ${version} is not installed (no ${path}): run \`deno task setup\``);
  }
}

/** The rule files Prometheus loads, in this folder. */
export const ruleFiles = [`${here}/rules/recording.yml`, `${here}/rules/alerts.yml`];

/** What {@linkcode prometheusConfig} needs. */
export interface PrometheusSettings {
  /** How often every target is scraped and rules are evaluated, e.g. `15s` (tests: `1s`). */
  scrapeInterval: string;
  /** The `file_sd` file that `prometheus_targets.ts` keeps current. */
  targetsFile: string;
  /** Holds `prometheus.crt`, `prometheus.key` and `ca.crt`: the client certificate for the services' mTLS. */
  certsDir: string;
  /** Envoy admin addresses (`127.0.0.1:9901`) scraped at `/stats/prometheus`. */
  envoyTargets: string[];
  /** Alertmanager addresses (`127.0.0.1:9093`). */
  alertmanagers: string[];
  /** Rule files to load (absolute paths); {@linkcode ruleFiles} unless set. */
  ruleFiles?: string[];
}

/**
 * Prometheus' configuration as data (written as JSON, which is YAML too):
 *
 * - job `shop`: every instance in the registry, from the `file_sd` file, over HTTPS with Prometheus' own
 *   client certificate (the services serve `/metrics` only over mTLS, to certificates of the shop's CA);
 *   `honor_labels`, since the services label their metrics with `service` already.
 * - job `envoy`: the gateway's admin `/stats/prometheus` (Envoy is not in the registry), labelled
 *   `service="gateway"`.
 * - job `prometheus`: itself.
 *
 * @example
 * ```ts
 * const config = prometheusConfig({
 *   scrapeInterval: "15s",
 *   targetsFile: "/abs/.local/prometheus/targets.json",
 *   certsDir: "/abs/certs/dev",
 *   envoyTargets: ["127.0.0.1:9901"],
 *   alertmanagers: ["127.0.0.1:9093"],
 * });
 * ```
 */
export function prometheusConfig(settings: PrometheusSettings): Record<string, unknown> {
  return {
    global: {
      scrape_interval: settings.scrapeInterval,
      evaluation_interval: settings.scrapeInterval,
      scrape_timeout: settings.scrapeInterval,
    },
    rule_files: settings.ruleFiles ?? ruleFiles,
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: settings.alertmanagers }] }],
    },
    scrape_configs: [
      {
        job_name: "shop",
        honor_labels: true,
        scheme: "https",
        tls_config: {
          ca_file: `${settings.certsDir}/ca.crt`,
          cert_file: `${settings.certsDir}/prometheus.crt`,
          key_file: `${settings.certsDir}/prometheus.key`,
        },
        file_sd_configs: [{ files: [settings.targetsFile], refresh_interval: "30s" }],
      },
      {
        job_name: "envoy",
        metrics_path: "/stats/prometheus",
        static_configs: [{ targets: settings.envoyTargets, labels: { service: "gateway" } }],
      },
      {
        job_name: "prometheus",
        static_configs: [{ targets: [] as string[], labels: { service: "prometheus" } }],
      },
    ],
  };
}

/** A started server of this module. */
export interface StartedObservabilityServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  await response.body?.cancel();
  return response.ok;
}

/**
 * Writes `config` (from {@linkcode prometheusConfig}) to `<dataDir>/prometheus.json` with itself as the
 * `prometheus` job's target, and runs Prometheus on 127.0.0.1 until `/-/ready` answers. `--web.enable-
 * lifecycle` lets a test reload it.
 *
 * @example
 * ```ts ignore
 * const prometheus = await startPrometheus(group, { port: 9090, dataDir: ".local/prometheus", config });
 * ```
 */
export async function startPrometheus(
  group: ProcessGroup,
  options: { port: number; dataDir: string; config: Record<string, unknown>; retention?: string },
): Promise<StartedObservabilityServer & { configPath: string }> {
  await Deno.mkdir(`${options.dataDir}/data`, { recursive: true });
  const config = structuredClone(options.config) as {
    scrape_configs?: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }>;
  };
  for (const job of config.scrape_configs ?? []) {
    if (job.job_name !== "prometheus") continue;
    for (const targets of job.static_configs ?? []) targets.targets = [`127.0.0.1:${options.port}`];
  }
  const configPath = `${options.dataDir}/prometheus.json`;
  await Deno.writeTextFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const process = await group.start({
    name: "prometheus",
    command: observabilityTool("prometheus", "prometheus"),
    args: [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${options.dataDir}/data`,
      `--storage.tsdb.retention.time=${options.retention ?? "7d"}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      "--web.enable-lifecycle",
    ],
  });
  const url = `http://127.0.0.1:${options.port}`;
  await waitUntil(process, () => answers(`${url}/-/ready`), 60_000);
  return { url, port: options.port, process, configPath };
}

/**
 * The Alertmanager configuration: every alert to the `local` receiver, which sends nothing anywhere;
 * alerts are read from Alertmanager's API (`GET /api/v2/alerts`) or its UI. A real deployment replaces
 * the receiver (e.g. a webhook, Slack, PagerDuty); `observability/alertmanager.yml` is the same file.
 */
export const alertmanagerConfigPath = `${here}/alertmanager.yml`;

/**
 * Runs Alertmanager on 127.0.0.1 (cluster mode off) with {@linkcode alertmanagerConfigPath}, until
 * `/-/ready` answers.
 *
 * @example
 * ```ts ignore
 * const alertmanager = await startAlertmanager(group, { port: 9093, dataDir: ".local/alertmanager" });
 * ```
 */
export async function startAlertmanager(
  group: ProcessGroup,
  options: { port: number; dataDir: string; configPath?: string },
): Promise<StartedObservabilityServer> {
  await Deno.mkdir(options.dataDir, { recursive: true });
  const process = await group.start({
    name: "alertmanager",
    command: observabilityTool("alertmanager", "prometheus-alertmanager"),
    args: [
      `--config.file=${options.configPath ?? alertmanagerConfigPath}`,
      `--storage.path=${options.dataDir}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      // One Alertmanager: no gossip port (it would take 9094 on every interface).
      "--cluster.listen-address=",
    ],
  });
  const url = `http://127.0.0.1:${options.port}`;
  await waitUntil(process, () => answers(`${url}/-/ready`), 60_000);
  return { url, port: options.port, process };
}

/**
 * Runs VictoriaLogs on 127.0.0.1 with its data in `dataDir`, until `/health` answers. Lines go in at
 * `<url>/insert/elasticsearch/_bulk`; the UI is `<url>/select/vmui/`; LogsQL queries at
 * `<url>/select/logsql/query`.
 *
 * @example
 * ```ts ignore
 * const logs = await startVictoriaLogs(group, { port: 9428, dataDir: ".local/victoria-logs" });
 * ```
 */
export async function startVictoriaLogs(
  group: ProcessGroup,
  options: { port: number; dataDir: string; retention?: string; name?: string },
): Promise<StartedObservabilityServer & { bulkUrl: string }> {
  await Deno.mkdir(options.dataDir, { recursive: true });
  const process = await group.start({
    name: options.name ?? "victoria-logs",
    command: observabilityTool("victoria-logs", "victoria-logs"),
    args: [
      `-httpListenAddr=127.0.0.1:${options.port}`,
      `-storageDataPath=${options.dataDir}`,
      `-retentionPeriod=${options.retention ?? "7d"}`,
    ],
  });
  const url = `http://127.0.0.1:${options.port}`;
  await waitUntil(process, () => answers(`${url}/health`), 60_000);
  return { url, port: options.port, process, bulkUrl: `${url}/insert/elasticsearch/_bulk` };
}
