/**
 * The servers of one test run. `scripts/test` starts them once with {@linkcode startTestServers} and
 * hands their URLs to `deno test` in environment variables; a test file run alone starts each one the
 * first time it asks for it ({@linkcode sharedServerUrl}). A URL already in the environment, say of a
 * container, is used as it is, and nothing is started for it.
 *
 * @module
 */
import { ensureDevCertificates } from "../tls/tls_files.ts";
import { ProcessGroup } from "./process_group.ts";
import { withFreePorts } from "./net.ts";
import {
  ensurePostgresDatabase,
  startEtcd,
  startFerretDb,
  startPostgres,
  startRedis,
  startStripeMock,
} from "./servers.ts";

/**
 * The environment variables that carry the URL of each shared test server.
 *
 * @example
 * ```ts ignore
 * Deno.env.get(TEST_SERVER_ENV.postgres); // set by scripts/test
 * ```
 */
export const TEST_SERVER_ENV = {
  /** A PostgreSQL superuser URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`. */
  postgres: "SHOP_TEST_POSTGRES_URL",
  /** An etcd v3 client URL, e.g. `https://127.0.0.1:2379` (TLS, client certificates, users: `startEtcd`). */
  etcd: "SHOP_TEST_ETCD_URL",
  /** A MongoDB wire protocol URL without a database, e.g. `mongodb://127.0.0.1:27017/`. */
  mongo: "SHOP_TEST_MONGO_URL",
  /** The base URL of stripe-mock (or of anything that answers like Stripe's API in test mode). */
  stripe: "SHOP_TEST_STRIPE_URL",
  /** A Redis URL, e.g. `redis://127.0.0.1:6379` (suites take a key prefix each). */
  redis: "SHOP_TEST_REDIS_URL",
} as const;

/** One of the shared test servers. */
export type TestServerName = keyof typeof TEST_SERVER_ENV;

/**
 * Starts a throwaway server in `group` on free ports, with its data inside the group's directory.
 *
 * @example
 * ```ts ignore
 * const url = await startTestServer(group, "etcd", {});
 * ```
 */
export async function startTestServer(
  group: ProcessGroup,
  name: TestServerName,
  urls: Partial<Record<TestServerName, string>>,
): Promise<string> {
  switch (name) {
    case "postgres":
      return (await withFreePorts(
        1,
        ([port = 0]) => startPostgres(group, { port, dataDir: `${group.dir}/postgres`, fast: true }),
      )).url;
    case "etcd":
      return (await withFreePorts(
        2,
        async ([port = 0, peerPort = 0]) =>
          startEtcd(group, {
            port,
            peerPort,
            dataDir: `${group.dir}/etcd-${port}`,
            certsDir: await ensureDevCertificates(),
          }),
      )).url;
    case "mongo": {
      const postgres = urls.postgres ?? await sharedServerUrl("postgres");
      const postgresUrl = await ensurePostgresDatabase(
        postgres,
        `ferretdb_${crypto.randomUUID().slice(0, 8)}`,
      );
      return (await withFreePorts(
        1,
        ([port = 0]) => startFerretDb(group, { port, postgresUrl, stateDir: `${group.dir}/ferretdb` }),
      )).url;
    }
    case "stripe":
      return (await withFreePorts(1, ([port = 0]) => startStripeMock(group, { port }))).url;
    case "redis":
      return (await withFreePorts(
        1,
        ([port = 0]) => startRedis(group, { port, dataDir: `${group.dir}/redis-${port}` }),
      )).url;
  }
}

/** What {@linkcode startTestServers} started. */
export interface TestServers {
  /** The environment variables to give `deno test`: every server's URL, given or started. */
  readonly env: Record<string, string>;
  /** The servers it started itself (not those given in the environment). */
  readonly started: TestServerName[];
  /** The group's directory: logs under `logs/`. */
  readonly dir: string;
  /** Stops what it started and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts every shared test server that the environment does not already name, in one process group.
 *
 * @example
 * ```ts ignore
 * const servers = await startTestServers();
 * try {
 *   // run the tests with servers.env
 * } finally {
 *   await servers.stop();
 * }
 * ```
 */
export async function startTestServers(): Promise<TestServers> {
  const group = await ProcessGroup.create();
  const urls: Partial<Record<TestServerName, string>> = {};
  const started: TestServerName[] = [];
  for (const name of Object.keys(TEST_SERVER_ENV) as TestServerName[]) {
    const given = Deno.env.get(TEST_SERVER_ENV[name]);
    if (given !== undefined && given !== "") urls[name] = given;
  }
  const start = async (name: TestServerName): Promise<void> => {
    if (urls[name] !== undefined) return;
    urls[name] = await startTestServer(group, name, urls);
    started.push(name);
  };
  try {
    // FerretDB stores its data in the PostgreSQL, so it starts after it; the rest start side by side.
    await Promise.all([
      start("postgres").then(() => start("mongo")),
      start("etcd"),
      start("stripe"),
      start("redis"),
    ]);
  } catch (error) {
    await group.stop();
    throw error;
  }
  const env: Record<string, string> = {};
  for (const [name, url] of Object.entries(urls) as [TestServerName, string][]) {
    env[TEST_SERVER_ENV[name]] = url;
  }
  return { env, started, dir: group.dir, stop: () => group.stop() };
}

let localGroup: Promise<ProcessGroup> | undefined;
const localUrls = new Map<TestServerName, Promise<string>>();

/**
 * The URL of a shared test server: the one in its environment variable, or else one this process starts
 * the first time it is asked, and stops when it exits (a watchdog stops it if the process is killed).
 *
 * @example
 * ```ts ignore
 * const url = await sharedServerUrl("etcd");
 * ```
 */
export function sharedServerUrl(name: TestServerName): Promise<string> {
  const given = Deno.env.get(TEST_SERVER_ENV[name]);
  if (given !== undefined && given !== "") return Promise.resolve(given);
  let url = localUrls.get(name);
  if (url === undefined) {
    localGroup ??= ProcessGroup.create().then((group) => {
      globalThis.addEventListener("unload", () => group.stopNow());
      return group;
    });
    url = localGroup.then((group) => startTestServer(group, name, {}));
    // A failed start is not cached: the next suite tries again and reports its own error.
    url.catch(() => localUrls.delete(name));
    localUrls.set(name, url);
  }
  return url;
}
