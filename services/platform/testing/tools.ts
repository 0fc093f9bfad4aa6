/**
 * Where the servers that `scripts/setup` installs are: `${SHOP_TOOLS_DIR:-~/.cache/shop/tools}/
 * <name>-<version>/bin/<binary>`, with the versions read from `scripts/lib/versions.env`, the one file
 * that pins them for setup and harness alike.
 *
 * @module
 */

/** The tools `scripts/setup` installs, by their directory names in the cache. */
export type ToolName =
  | "postgresql"
  | "etcd"
  | "ferretdb"
  | "stripe-mock"
  | "envoy"
  | "grpcurl"
  | "mailpit"
  | "redis";

const VERSION_KEYS: Record<ToolName, string> = {
  postgresql: "POSTGRES_VERSION",
  etcd: "ETCD_VERSION",
  ferretdb: "FERRETDB_VERSION",
  "stripe-mock": "STRIPE_MOCK_VERSION",
  envoy: "ENVOY_VERSION",
  grpcurl: "GRPCURL_VERSION",
  mailpit: "MAILPIT_VERSION",
  redis: "REDIS_VERSION",
};

const VERSIONS_FILE = new URL("../../../scripts/lib/versions.env", import.meta.url);

/**
 * The pinned version of a tool, from `scripts/lib/versions.env`.
 *
 * @example
 * ```ts ignore
 * toolVersion("ferretdb"); // "1.24.2"
 * ```
 */
export function toolVersion(tool: ToolName): string {
  const key = VERSION_KEYS[tool];
  const text = Deno.readTextFileSync(VERSIONS_FILE);
  const line = text.split("\n").find((line) => line.startsWith(`${key}=`));
  const version = line?.slice(key.length + 1).trim();
  if (version === undefined || version === "") {
    throw new Error(`${key} is missing from ${VERSIONS_FILE.pathname}`);
  }
  return version;
}

/**
 * The per-user tool cache: `SHOP_TOOLS_DIR`, or `~/.cache/shop/tools`.
 *
 * @example
 * ```ts ignore
 * toolsDir(); // "/root/.cache/shop/tools"
 * ```
 */
export function toolsDir(): string {
  const dir = Deno.env.get("SHOP_TOOLS_DIR");
  if (dir !== undefined && dir !== "") return dir;
  const home = Deno.env.get("HOME");
  if (home === undefined) throw new Error("Neither SHOP_TOOLS_DIR nor HOME is set: cannot find the tools");
  return `${home}/.cache/shop/tools`;
}

/**
 * The real path of an installed binary (the cache holds symlinks to apt's binaries, and PostgreSQL finds
 * its share directory next to its real executable), or an error that says to run the setup. With
 * `resolve: false`, the path in the cache itself: Debian's redis-server is a symlink to redis-check-rdb,
 * which picks its part by the name it was started under.
 *
 * @example
 * ```ts ignore
 * const etcd = toolPath("etcd", "etcd");
 * const initdb = toolPath("postgresql", "initdb");
 * ```
 */
export function toolPath(tool: ToolName, binary: string, options: { resolve?: boolean } = {}): string {
  const version = toolVersion(tool);
  const path = `${toolsDir()}/${tool}-${version}/bin/${binary}`;
  try {
    const real = Deno.realPathSync(path);
    return options.resolve === false ? path : real;
  } catch {
    throw new Error(`${tool} ${version} is not installed (no ${path}): run \`deno task setup\``);
  }
}
