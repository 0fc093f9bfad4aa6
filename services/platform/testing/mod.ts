/**
 * The test harness: real, throwaway servers for every service's tests, on free ports bound to 127.0.0.1.
 *
 * `deno task test` (`scripts/test`) starts PostgreSQL, etcd, FerretDB, stripe-mock and Redis once per run and
 * passes their URLs to the tests in `SHOP_TEST_POSTGRES_URL`, `SHOP_TEST_ETCD_URL`, `SHOP_TEST_MONGO_URL`,
 * `SHOP_TEST_STRIPE_URL` and `SHOP_TEST_REDIS_URL`. A test file run alone (`deno test -A file_test.ts`) starts what it asks for
 * itself. A URL set from outside (containers, a shared server) is used as it is. Each suite takes an
 * isolated part of a server: its own PostgreSQL database, etcd key prefix or MongoDB database.
 *
 * @example A suite with its own database
 * ```ts ignore
 * import postgres from "postgres";
 * import { postgresForTests } from "@shop/platform/testing";
 *
 * Deno.test("users are stored", async () => {
 *   await using db = await (await postgresForTests()).createDatabase({ label: "user" });
 *   const sql = postgres(db.url);
 *   await sql`SELECT 1`;
 *   await sql.end();
 * });
 * ```
 *
 * @module
 */
export {
  type CreateDatabaseOptions,
  type PostgresForTests,
  postgresForTests,
  type PostgresTestDatabase,
} from "./postgres.ts";
export {
  type CreateNamespaceOptions,
  type EtcdForTests,
  etcdForTests,
  type EtcdTestNamespace,
} from "./etcd.ts";
export {
  type CreateMongoDatabaseOptions,
  type MongoForTests,
  mongoForTests,
  type MongoTestDatabase,
  withMongoDatabase,
} from "./mongo.ts";
export { type StripeMockForTests, stripeMockForTests } from "./stripe_mock.ts";
export { type RedisForTests, redisForTests } from "./redis.ts";
export {
  type AdminAnswer,
  adminRequest,
  envoyBinary,
  type StartedEnvoy,
  startEnvoy,
  type StartEnvoyOptions,
} from "./envoy.ts";
export {
  sharedServerUrl,
  startTestServer,
  startTestServers,
  TEST_SERVER_ENV,
  type TestServerName,
  type TestServers,
} from "./test_servers.ts";
export {
  delay,
  isRunning,
  type ManagedProcess,
  ProcessGroup,
  type ProcessGroupOptions,
  type ProcessSpec,
  reclaim,
  RUN_MARKER,
  waitUntil,
} from "./process_group.ts";
export {
  ensurePostgresDatabase,
  POSTGRES_SUPERUSER,
  type StartedMailpit,
  type StartedServer,
  startEtcd,
  type StartEtcdOptions,
  startFerretDb,
  type StartFerretDbOptions,
  startMailpit,
  type StartMailpitOptions,
  startPostgres,
  type StartPostgresOptions,
  startRedis,
  type StartRedisOptions,
  startStripeMock,
  type StartStripeMockOptions,
  withDatabase,
} from "./servers.ts";
export { acceptsConnections, freePort, withFreePorts } from "./net.ts";
export { contractTest, type StoreFixture } from "./contract_suite.ts";
export { eventually, type EventuallyOptions, type NotYet } from "./eventually.ts";
export { failure } from "./failure.ts";
export {
  ensureFerretDbLookupIndexes,
  type EqualityLookups,
  ferretDbBackends,
  prepareFerretDbBackend,
} from "./ferretdb_indexes.ts";
export { type CollectedSpan, type OtlpCollector, startOtlpCollector } from "./otlp_collector.ts";
export { type ServiceProcess, startServiceProcess } from "./service_process.ts";
export { type ToolName, toolPath, toolsDir, toolVersion } from "./tools.ts";
