// deno-lint-ignore-file no-console -- a script: what it prints is its interface
/**
 * What `scripts/dev` runs: every process of the local stack, in order, on fixed ports of 127.0.0.1, with
 * state under `.local/`. Ctrl-C (or SIGTERM) stops them in reverse order. A start after a crash first
 * kills what the crashed run started (found by the mark `ProcessGroup` puts in their environment, so the
 * pid files that could name someone else's process are not trusted) and removes a dead server's
 * `postmaster.pid`.
 *
 * To add a process, add an entry to `stack`: a name, its port, and a `start` that returns its URL.
 *
 * @module
 */
import { ensureDevCertificates } from "@shop/platform/tls";
import {
  prometheusConfig,
  startAlertmanager,
  startPrometheus,
  startVictoriaLogs,
} from "../../observability/servers.ts";
import {
  acceptsConnections,
  ensurePostgresDatabase,
  isRunning,
  ProcessGroup,
  startEnvoy,
  startEtcd,
  startFerretDb,
  startPostgres,
  startStripeMock,
  waitUntil,
} from "@shop/platform/testing";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const local = `${root}/.local`;

/** What each entry's `start` gets: the group and the URLs of the entries before it. */
interface DevContext {
  group: ProcessGroup;
  urls: Record<string, string>;
}

/** One process of the stack. */
interface DevProcess {
  name: string;
  /** The ports it binds: checked to be free before anything starts. */
  ports: number[];
  /** Where its data lives, for the summary. */
  data?: string;
  start(context: DevContext): Promise<string>;
}

const stack: DevProcess[] = [
  {
    name: "postgres",
    ports: [5432],
    data: `${local}/postgres`,
    start: async ({ group }) =>
      (await startPostgres(group, { port: 5432, dataDir: `${local}/postgres` })).url,
  },
  {
    name: "etcd",
    ports: [2379, 2380],
    data: `${local}/etcd`,
    start: async ({ group }) =>
      (await startEtcd(group, { port: 2379, peerPort: 2380, dataDir: `${local}/etcd` })).url,
  },
  {
    name: "ferretdb",
    ports: [27017],
    data: "PostgreSQL database ferretdb",
    start: async ({ group, urls }) => {
      const postgresUrl = await ensurePostgresDatabase(required(urls, "postgres"), "ferretdb");
      return (await startFerretDb(group, { port: 27017, postgresUrl, stateDir: `${local}/ferretdb` })).url;
    },
  },
  {
    name: "stripe-mock",
    ports: [12111],
    start: async ({ group }) => (await startStripeMock(group, { port: 12111 })).url,
  },
  {
    // First of the shop's own processes: every service ships its log lines here from its first line.
    name: "victoria-logs",
    ports: [9428],
    data: `${local}/victoria-logs`,
    start: async ({ group }) => {
      await startVictoriaLogs(group, { port: 9428, dataDir: `${local}/victoria-logs` });
      return "http://127.0.0.1:9428/select/vmui/  (logs UI)";
    },
  },
];

/** Where every process of the stack ships its log lines (VictoriaLogs' Elasticsearch bulk endpoint). */
const logShipUrl = "http://127.0.0.1:9428/insert/elasticsearch/_bulk";

/**
 * A shop service: `deno run` of its `main.ts` with the dev environment (`SHOP_ENV=dev` allows the
 * documented dev defaults), ready once its port accepts connections.
 */
function service(
  name: string,
  port: number,
  env: (context: DevContext, certsDir: string) => Promise<Record<string, string>>,
): DevProcess {
  return {
    name,
    ports: [port],
    start: async (context) => {
      const certsDir = await ensureDevCertificates(`${root}/certs/dev`);
      const process = await context.group.start({
        name,
        command: Deno.execPath(),
        args: ["run", "--allow-all", `${root}/services/${name}/main.ts`],
        env: {
          SHOP_ENV: "dev",
          NO_COLOR: "1",
          SHOP_LOG_SHIP_URL: logShipUrl,
          ...await env(context, certsDir),
        },
      });
      await waitUntil(process, () => acceptsConnections(port), 60_000);
      return `https://127.0.0.1:${port}`;
    },
  };
}

/** A helper program of the stack (not a shop service), run with `deno run`. */
function program(
  name: string,
  ports: number[],
  script: string,
  env: (context: DevContext, certsDir: string) => Promise<Record<string, string>> | Record<string, string>,
  url: string,
  ready: () => Promise<boolean>,
): DevProcess {
  return {
    name,
    ports,
    start: async (context) => {
      const certsDir = await ensureDevCertificates(`${root}/certs/dev`);
      const process = await context.group.start({
        name,
        command: Deno.execPath(),
        args: ["run", "--allow-all", `${root}/${script}`],
        env: { NO_COLOR: "1", ...await env(context, certsDir) },
      });
      await waitUntil(process, ready, 60_000);
      return url;
    },
  };
}

const gatewayPort = Number(Deno.env.get("SHOP_GATEWAY_PORT") ?? "8443");
const envoyDir = `${local}/envoy`;
const prometheusDir = `${local}/prometheus`;

stack.push(
  program(
    "stripe-simulator",
    [12112],
    "services/payment/stripe_simulator/main.ts",
    (_context, certsDir) => ({
      SHOP_STRIPE_SIMULATOR_SERVER_PORT: "12112",
      SHOP_STRIPE_SIMULATOR_UPSTREAM_URL: "http://127.0.0.1:12111",
      // Webhooks arrive as Stripe's would: through the gateway, which passes the raw body on.
      SHOP_STRIPE_SIMULATOR_WEBHOOK_URL: `https://127.0.0.1:${gatewayPort}/v1/webhooks/stripe`,
      SHOP_STRIPE_SIMULATOR_WEBHOOK_CERTS_DIR: certsDir,
    }),
    "http://127.0.0.1:12112",
    () => acceptsConnections(12112),
  ),
  service("user", 50051, async ({ urls }, certsDir) => ({
    SHOP_USER_SERVER_PORT: "50051",
    SHOP_USER_DATABASE_URL: await ensurePostgresDatabase(required(urls, "postgres"), "shop_user"),
    SHOP_USER_TLS_CERTS_DIR: certsDir,
    SHOP_USER_JWT_KEYS_DIR: `${certsDir}/jwt`,
  })),
  service("product", 50052, ({ urls }, certsDir) =>
    Promise.resolve({
      SHOP_PRODUCT_SERVER_PORT: "50052",
      SHOP_PRODUCT_MONGO_URL: required(urls, "ferretdb"),
      SHOP_PRODUCT_TLS_CERTS_DIR: certsDir,
    })),
  service("payment", 50054, async ({ urls }, certsDir) => ({
    SHOP_PAYMENT_SERVER_PORT: "50054",
    SHOP_PAYMENT_DATABASE_URL: await ensurePostgresDatabase(required(urls, "postgres"), "shop_payment"),
    SHOP_PAYMENT_TLS_CERTS_DIR: certsDir,
    SHOP_PAYMENT_STRIPE_BASE_URL: required(urls, "stripe-simulator"),
  })),
  service("order", 50053, async ({ urls }, certsDir) => ({
    SHOP_ORDER_SERVER_PORT: "50053",
    SHOP_ORDER_DATABASE_URL: await ensurePostgresDatabase(required(urls, "postgres"), "shop_order"),
    SHOP_ORDER_TLS_CERTS_DIR: certsDir,
  })),
  program(
    "edge",
    [],
    "services/edge/main.ts",
    () => ({ SHOP_EDGE_ENDPOINTS_DIR: `${envoyDir}/endpoints`, SHOP_EDGE_ETCD_URL: "http://127.0.0.1:2379" }),
    `${envoyDir}/endpoints`,
    async () => {
      for await (const entry of Deno.readDir(`${envoyDir}/endpoints`)) if (entry.isFile) return true;
      return false;
    },
  ),
  {
    name: "envoy",
    ports: [gatewayPort, 9901],
    start: async ({ group }) => {
      const render = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", `${root}/envoy/render_config.ts`, `--out=${envoyDir}/envoy.json`],
        env: { SHOP_GATEWAY_ENDPOINTS_DIR: `${envoyDir}/endpoints` },
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (!render.success) throw new Error("rendering the Envoy configuration failed");
      await startEnvoy(group, { configPath: `${envoyDir}/envoy.json`, adminPort: 9901 });
      return `https://127.0.0.1:${gatewayPort}  (admin http://127.0.0.1:9901)`;
    },
  },
  // Envoy's JSON access log goes to its stdout, which the group writes to logs/envoy.log: ship from there.
  program(
    "envoy-log-shipper",
    [],
    "observability/ship_file.ts",
    ({ group }) => ({
      SHOP_SHIP_FILE_FILE: `${group.dir}/logs/envoy.log`,
      SHOP_SHIP_FILE_SERVICE: "envoy",
      SHOP_LOG_SHIP_URL: logShipUrl,
    }),
    "(tails logs/envoy.log)",
    () => Promise.resolve(true),
  ),
  // Prometheus' targets: the registry, written as file_sd JSON, kept current from etcd.
  program(
    "prometheus-targets",
    [],
    "observability/prometheus_targets.ts",
    () => ({
      SHOP_TARGETS_OUT: `${prometheusDir}/targets.json`,
      SHOP_ETCD_ENDPOINTS: "http://127.0.0.1:2379",
      SHOP_LOG_SHIP_URL: logShipUrl,
    }),
    `${prometheusDir}/targets.json`,
    async () => (await Deno.stat(`${prometheusDir}/targets.json`).catch(() => undefined)) !== undefined,
  ),
  {
    name: "alertmanager",
    ports: [9093],
    data: `${local}/alertmanager`,
    start: async ({ group }) => {
      await startAlertmanager(group, { port: 9093, dataDir: `${local}/alertmanager` });
      return "http://127.0.0.1:9093  (API: /api/v2/alerts)";
    },
  },
  {
    name: "prometheus",
    ports: [9090],
    data: `${prometheusDir}/data`,
    start: async ({ group }) => {
      await startPrometheus(group, {
        port: 9090,
        dataDir: prometheusDir,
        config: prometheusConfig({
          scrapeInterval: "5s",
          targetsFile: `${prometheusDir}/targets.json`,
          certsDir: await ensureDevCertificates(`${root}/certs/dev`),
          envoyTargets: ["127.0.0.1:9901"],
          alertmanagers: ["127.0.0.1:9093"],
        }),
      });
      return "http://127.0.0.1:9090  (alerts: /alerts, targets: /targets)";
    },
  },
);

function required(urls: Record<string, string>, name: string): string {
  const url = urls[name];
  if (url === undefined) throw new Error(`${name} must start before the processes that use it`);
  return url;
}

async function main(): Promise<number> {
  await Deno.mkdir(local, { recursive: true });
  let group: ProcessGroup;
  try {
    // Kills whatever a crashed dev run left behind; refuses when a dev stack of this clone still runs.
    group = await ProcessGroup.create({ dir: `${local}/run` });
  } catch (error) {
    console.error(`dev: error: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
  let stopping = false;
  const stopSignal = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      Deno.addSignalListener(signal, () => {
        stopping = true;
        resolve(signal);
      });
    }
  });

  const urls: Record<string, string> = {};
  try {
    for (const process of stack) {
      for (const port of process.ports) {
        if (await acceptsConnections(port)) {
          throw new Error(
            `port ${port} (for ${process.name}) is taken by a process this stack did not start: ${await holder(
              port,
            )}`,
          );
        }
      }
    }
    for (const process of stack) {
      if (stopping) break;
      console.log(`dev: starting ${process.name}`);
      urls[process.name] = await process.start({ group, urls });
    }
  } catch (error) {
    console.error(`dev: error: ${error instanceof Error ? error.message : error}`);
    await group.stop();
    return 1;
  }

  if (!stopping) {
    console.log("\ndev: the stack runs (Ctrl-C stops it)");
    for (const process of stack) {
      const data = process.data === undefined ? "" : `  data: ${process.data}`;
      console.log(`  ${process.name.padEnd(19)} ${(urls[process.name] ?? "").padEnd(42)}${data}`);
    }
    console.log(`  logs:        ${group.dir}/logs/<name>.log\n`);
  }

  const reason = await Promise.race([stopSignal, firstExit(group)]);
  console.log(`\ndev: ${reason}; stopping`);
  await group.stop();
  console.log("dev: stopped");
  return reason.startsWith("SIG") ? 0 : 1;
}

/** Resolves when a process of the stack exits on its own, with its name and the end of its log. */
async function firstExit(group: ProcessGroup): Promise<string> {
  while (true) {
    for (const process of group.processes) {
      if (!isRunning(process.pid)) {
        const log = await Deno.readTextFile(process.logFile).catch(() => "");
        const tail = log.trimEnd().split("\n").slice(-10).map((line) => `    ${line}`).join("\n");
        return `${process.name} exited; its log ends with:\n${tail}\n`;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Who listens on a port, as `ss` tells it, for the error message. */
async function holder(port: number): Promise<string> {
  try {
    const out = await new Deno.Command("ss", { args: ["-Hltnp", `sport = :${port}`], stdout: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return text === "" ? "unknown" : text.replaceAll(/\s+/g, " ");
  } catch {
    return "unknown (no ss)";
  }
}

Deno.exit(await main());
