/**
 * The servers the stack keeps its data in (PostgreSQL, FerretDB), finds its instances through (etcd)
 * and charges against (stripe-mock): started on fixed ports with data under `.local/` for
 * `deno task dev`, or borrowed from the test harness (a database and an etcd prefix of the stack's own
 * on the run's shared servers) for tests and benchmarks.
 *
 * @module
 */
import { defaultPrefix, grantRegistryAccessFrom } from "@shop/platform/discovery";
import { productEqualityLookups } from "../services/product/store/mongo_product_store.ts";
import {
  ensurePostgresDatabase,
  etcdForTests,
  mongoForTests,
  postgresForTests,
  type ProcessGroup,
  redisForTests,
  type StartedServer,
  startEtcd,
  startFerretDb,
  startPostgres,
  startRedis,
  startStripeMock,
  stripeMockForTests,
  withFreePorts,
} from "@shop/platform/testing";
import { ensureDevCertificates } from "@shop/platform/tls";
import { devPorts, type StackService } from "./services.ts";

/** What the stack's servers give its processes. */
export interface StackServers {
  /** The etcd client URL every instance registers with. */
  readonly etcdUrl: string;
  /** The key prefix the instances register under; the services' own default when not set. */
  readonly discoveryPrefix?: string;
  /** stripe-mock, behind the Stripe simulator. */
  readonly stripeMockUrl: string;
  /** The MongoDB server and database of every product instance (the service's default database when not set). */
  readonly mongo: { readonly url: string; readonly database?: string };
  /** The Redis of the carts, and the key prefix the cart service writes under (its default when not set). */
  readonly redis: { readonly url: string; readonly keyPrefix?: string };
  /** A PostgreSQL database of the stack's own for a service (the same one on every call). */
  postgresDatabase(service: StackService | "notification"): Promise<string>;
  /** What `deno task dev` prints about each server: its address and where its data lives. */
  readonly summary: ReadonlyArray<{ name: string; url: string; data?: string }>;
}

/**
 * Starts PostgreSQL, etcd, FerretDB (its data in that PostgreSQL) and stripe-mock in `group` on the fixed
 * dev ports, with their data under `local`; the services' databases are `shop_<service>`. etcd serves
 * TLS to the holders of `certsDir`'s certificates, each identity an etcd user (`etcd/*.password`).
 *
 * @example
 * ```ts ignore
 * const servers = await startDevServers(group, ".local", "certs/dev");
 * ```
 */
export async function startDevServers(
  group: ProcessGroup,
  local: string,
  certsDir: string,
): Promise<StackServers> {
  const [postgres, etcd, redis] = await Promise.all([
    startPostgres(group, { port: devPorts.postgres, dataDir: `${local}/postgres` }),
    startEtcd(group, {
      port: devPorts.etcd,
      peerPort: devPorts.etcdPeer,
      dataDir: `${local}/etcd`,
      certsDir,
    }).then((etcd) => secureRegistry(etcd, certsDir)),
    startRedis(group, { port: devPorts.redis, dataDir: `${local}/redis` }),
  ]);
  const [mongo, stripeMock] = await Promise.all([
    ensurePostgresDatabase(postgres.url, "ferretdb").then((postgresUrl) =>
      startFerretDb(group, {
        port: devPorts.mongo,
        postgresUrl,
        stateDir: `${local}/ferretdb`,
        // The product store's equality lookups, served by GIN indexes (FerretDB issue #4646).
        lookups: productEqualityLookups,
      })
    ),
    startStripeMock(group, { port: devPorts.stripeMock }),
  ]);
  return {
    etcdUrl: etcd.url,
    stripeMockUrl: stripeMock.url,
    mongo: { url: mongo.url },
    redis: { url: redis.url },
    postgresDatabase: (service) => ensurePostgresDatabase(postgres.url, `shop_${service}`),
    summary: [
      { name: "postgres", url: postgres.url, data: `${local}/postgres` },
      { name: "etcd", url: etcd.url, data: `${local}/etcd` },
      { name: "ferretdb", url: mongo.url, data: "PostgreSQL database ferretdb" },
      { name: "stripe-mock", url: stripeMock.url },
      { name: "redis", url: redis.url, data: "memory only (carts are lost on a restart of the dev stack)" },
    ],
  };
}

/**
 * The test run's shared servers (started by `deno task test`, or by this process when a file runs
 * alone), with parts of the stack's own: a database per service named after `label`, one MongoDB
 * database for every product instance, an etcd key prefix. `onRelease` is told how to drop them.
 *
 * @example
 * ```ts ignore
 * const servers = await borrowTestServers("checkout", (release) => cleanups.push(release));
 * ```
 */
export async function borrowTestServers(
  label: string,
  onRelease: (release: () => Promise<void>) => void,
): Promise<StackServers> {
  const [postgres, etcd, mongo, stripeMock, redis] = await Promise.all([
    postgresForTests(),
    etcdForTests(),
    mongoForTests(),
    stripeMockForTests(),
    redisForTests(),
  ]);
  const productDb = await mongo.createDatabase({ label: `${label}_product` });
  onRelease(() => productDb.drop());
  const namespace = await etcd.createNamespace({ label });
  onRelease(() => namespace.clear());
  const databases = new Map<StackService | "notification", Promise<string>>();
  return {
    etcdUrl: etcd.url,
    discoveryPrefix: `${namespace.prefix}services`,
    stripeMockUrl: stripeMock.url,
    mongo: { url: productDb.url, database: productDb.name },
    // A prefix of the stack's own; the keys go with the test run's Redis, which keeps nothing on disk.
    redis: { url: redis.url, keyPrefix: redis.prefix(label) },
    postgresDatabase: (service) => {
      let url = databases.get(service);
      if (url === undefined) {
        url = postgres.createDatabase({ label: `${label}_${service}` }).then((db) => {
          onRelease(() => db.drop());
          return db.url;
        });
        databases.set(service, url);
      }
      return url;
    },
    summary: [],
  };
}

/** Gives each identity its etcd user under the registry's default prefix (its own registrations only). */
async function secureRegistry(etcd: StartedServer, certsDir: string): Promise<StartedServer> {
  await grantRegistryAccessFrom([etcd.url], certsDir, defaultPrefix);
  return etcd;
}

/** The servers a stack may restart: its own ({@linkcode startOwnServers}), never the test run's. */
export type RestartableServer = "postgres" | "etcd" | "ferretdb";

/**
 * PostgreSQL, etcd and FerretDB of a stack's own, on free ports in `group` with their data in the
 * group's directory, so that a test can stop and restart them (chaos tests) without touching the test
 * run's shared servers; stripe-mock and Redis are borrowed from the run as in
 * {@linkcode borrowTestServers}. Their ports are in the summary's URLs.
 *
 * @example
 * ```ts ignore
 * const servers = await startOwnServers(group, "chaos");
 * ```
 */
export async function startOwnServers(group: ProcessGroup, label: string): Promise<StackServers> {
  const [postgres, etcd, stripeMock, redis] = await Promise.all([
    withFreePorts(
      1,
      ([port = 0]) => startPostgres(group, { port, dataDir: `${group.dir}/postgres`, fast: true }),
    ),
    withFreePorts(
      2,
      async ([port = 0, peerPort = 0]) => {
        const certsDir = await ensureDevCertificates();
        return await secureRegistry(
          await startEtcd(group, { port, peerPort, dataDir: `${group.dir}/etcd`, certsDir }),
          certsDir,
        );
      },
    ),
    stripeMockForTests(),
    redisForTests(),
  ]);
  const postgresUrl = await ensurePostgresDatabase(postgres.url, "ferretdb");
  const mongo = await withFreePorts(1, ([port = 0]) =>
    startFerretDb(group, {
      port,
      postgresUrl,
      stateDir: `${group.dir}/ferretdb`,
      lookups: productEqualityLookups,
    }));
  const databases = new Map<StackService | "notification", Promise<string>>();
  return {
    etcdUrl: etcd.url,
    stripeMockUrl: stripeMock.url,
    mongo: { url: mongo.url },
    redis: { url: redis.url, keyPrefix: redis.prefix(label) },
    postgresDatabase: (service) => {
      let url = databases.get(service);
      if (url === undefined) {
        url = ensurePostgresDatabase(postgres.url, `shop_${service}`);
        databases.set(service, url);
      }
      return url;
    },
    summary: [
      { name: "postgres", url: postgres.url },
      { name: "etcd", url: etcd.url },
      { name: "ferretdb", url: mongo.url },
    ],
  };
}
