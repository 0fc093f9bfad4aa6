/**
 * Starters for the real servers: each runs one server in a {@linkcode ProcessGroup} on 127.0.0.1 and
 * returns once it serves. The test harness gives them temporary directories and free ports; the dev
 * stack (`scripts/dev`) gives them `.local/` and fixed ports.
 *
 * @module
 */
import { ensureFerretDbLookupIndexes, type EqualityLookups } from "./ferretdb_indexes.ts";
import { isRunning, type ManagedProcess, type ProcessGroup, waitUntil } from "./process_group.ts";
import { acceptsConnections } from "./net.ts";
import { toolPath } from "./tools.ts";
import { enableEtcdAuthFrom } from "../discovery/etcd_access.ts";

/** A server that a starter brought up. */
export interface StartedServer {
  /** The URL clients connect to. */
  readonly url: string;
  /** The port it serves on. */
  readonly port: number;
  /** Its process. */
  readonly process: ManagedProcess;
}

/** Options of {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** The port to serve on (127.0.0.1 only). */
  port: number;
  /** The data directory; created with `initdb` when it holds no cluster yet. */
  dataDir: string;
  /**
   * Trade durability for speed (fsync and synchronous commit off). Right for throwaway test clusters:
   * a test never outlives a crash of its machine.
   */
  fast?: boolean;
}

/**
 * The superuser of the clusters this creates; `trust` authentication, loopback only.
 *
 * @example
 * ```ts ignore
 * `postgres://${POSTGRES_SUPERUSER}@127.0.0.1:5432/postgres`;
 * ```
 */
export const POSTGRES_SUPERUSER = "postgres";

/**
 * Starts PostgreSQL on 127.0.0.1, creating the cluster first when `dataDir` holds none. As root, the
 * server runs as the `postgres` system user (PostgreSQL refuses to run as root).
 *
 * @example
 * ```ts ignore
 * const pg = await startPostgres(group, { port: 5432, dataDir: ".local/postgres" });
 * pg.url; // "postgres://postgres@127.0.0.1:5432/postgres"
 * ```
 */
export async function startPostgres(
  group: ProcessGroup,
  options: StartPostgresOptions,
): Promise<StartedServer> {
  const { port, dataDir } = options;
  const user = Deno.uid() === 0 ? "postgres" : undefined;
  if (!(await exists(`${dataDir}/PG_VERSION`))) {
    await initCluster(dataDir, user, `${group.dir}/logs/initdb.log`);
  }
  await removeStaleLockFiles(dataDir);
  const args = ["-D", dataDir, "-p", String(port), "-k", dataDir, "-c", "listen_addresses=127.0.0.1"];
  // Tests open a pool per suite; the default 100 connections run out with a few suites in parallel.
  args.push("-c", "max_connections=300");
  // Statement statistics (`pg_stat_statements`, part of PostgreSQL's own packages) for profiling: the
  // bench reads the busiest statements of each checkout scenario from it.
  args.push("-c", "shared_preload_libraries=pg_stat_statements");
  if (options.fast === true) {
    args.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  }
  // Started directly rather than through pg_ctl, which would fork a shell in between: the group then
  // holds the postmaster's own pid, and SIGINT is PostgreSQL's "fast shutdown".
  const process = await group.start({
    name: "postgres",
    command: toolPath("postgresql", "postgres"),
    args,
    stopSignal: "SIGINT",
    unsetEnv: ["PGDATA", "PGPORT", "PGHOST"],
    ...(user === undefined ? {} : { user }),
  });
  const isReady = toolPath("postgresql", "pg_isready");
  await waitUntil(process, async () => {
    const probe = new Deno.Command(isReady, {
      args: ["-q", "-h", "127.0.0.1", "-p", String(port), "-U", POSTGRES_SUPERUSER, "-d", "postgres"],
      stdout: "null",
      stderr: "null",
    });
    return (await probe.output()).success;
  });
  return { url: `postgres://${POSTGRES_SUPERUSER}@127.0.0.1:${port}/postgres`, port, process };
}

async function initCluster(dataDir: string, user: string | undefined, logFile: string): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (user !== undefined) await run("chown", [`${user}:`, dataDir]);
  const initdb = toolPath("postgresql", "initdb");
  const argv = [
    initdb,
    "-D",
    dataDir,
    "-U",
    POSTGRES_SUPERUSER,
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
  ];
  // A new cluster is cheap to make again; skipping its fsyncs saves about a second per start.
  argv.push("--no-sync");
  if (user !== undefined) argv.unshift("setpriv", `--reuid=${user}`, `--regid=${user}`, "--init-groups");
  const [command = "", ...args] = argv;
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  await Deno.writeTextFile(logFile, text, { append: true });
  if (!out.success) throw new Error(`initdb failed for ${dataDir}:\n${text.trim()}`);
}

/**
 * The lock files a killed server leaves (`postmaster.pid`, and `.s.PGSQL.<port>.lock` beside the socket)
 * make the next start fail when their pid now belongs to another process or to a zombie: PostgreSQL only
 * ignores them when the pid is free, and where nobody reaps orphans (PID 1 of some containers) a killed
 * postmaster stays a zombie. Whatever this project started is killed before this runs, so a lock file
 * whose pid is not a live postgres is stale.
 */
async function removeStaleLockFiles(dataDir: string): Promise<void> {
  const files = [`${dataDir}/postmaster.pid`];
  for await (const entry of Deno.readDir(dataDir)) {
    if (/^\.s\.PGSQL\.\d+\.lock$/.test(entry.name)) files.push(`${dataDir}/${entry.name}`);
  }
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch {
      continue;
    }
    const pid = Number(text.split("\n")[0]);
    let comm = "";
    try {
      comm = (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
    } catch {
      // No such process.
    }
    if (comm !== "postgres" || !isRunning(pid)) await Deno.remove(file).catch(() => {});
  }
}

/** Options of {@linkcode startEtcd}. */
export interface StartEtcdOptions {
  /** The client port (127.0.0.1 only). */
  port: number;
  /** The peer port; etcd always listens for peers, even alone. */
  peerPort: number;
  /** The data directory. */
  dataDir: string;
  /**
   * The shop's certificates: etcd then serves TLS with its own certificate, asks every client for one of
   * the shop's CA, and has authentication on, with `root`'s password from `<certsDir>/etcd/` (see
   * `grantRegistryAccess` for the services' users). Plain HTTP, open to anyone, unless set.
   */
  certsDir?: string;
}

/**
 * Starts a single-member etcd on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * const etcd = await startEtcd(group, { port: 2379, peerPort: 2380, dataDir: ".local/etcd" });
 * etcd.url; // "http://127.0.0.1:2379"
 * ```
 */
export async function startEtcd(group: ProcessGroup, options: StartEtcdOptions): Promise<StartedServer> {
  const certsDir = options.certsDir;
  const url = `${certsDir === undefined ? "http" : "https"}://127.0.0.1:${options.port}`;
  const peer = `http://127.0.0.1:${options.peerPort}`;
  const process = await group.start({
    name: "etcd",
    command: toolPath("etcd", "etcd"),
    args: [
      "--name=shop",
      `--data-dir=${options.dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=shop=${peer}`,
      "--logger=zap",
      "--log-outputs=stderr",
      ...(certsDir === undefined ? [] : [
        `--cert-file=${certsDir}/etcd.crt`,
        `--key-file=${certsDir}/etcd.key`,
        `--trusted-ca-file=${certsDir}/ca.crt`,
        "--client-cert-auth",
      ]),
    ],
    // etcd refuses to start when a flag is also set as ETCD_<FLAG> in the environment.
    unsetEnv: envNamesStartingWith("ETCD"),
  });
  // Before authentication is on: TLS with the client identity's certificate, no user.
  const tls = certsDir === undefined ? undefined : {
    ca: await Deno.readTextFile(`${certsDir}/ca.crt`),
    cert: await Deno.readTextFile(`${certsDir}/client.crt`),
    key: await Deno.readTextFile(`${certsDir}/client.key`),
  };
  const client = tls === undefined ? undefined : Deno.createHttpClient({ caCerts: [tls.ca], ...tls });
  try {
    await waitUntil(process, async () => {
      const response = await fetch(`${url}/health`, client === undefined ? {} : { client });
      return response.ok && (await response.json()).health === "true";
    });
  } finally {
    client?.close();
  }
  if (certsDir !== undefined) await enableEtcdAuthFrom([url], certsDir);
  return { url, port: options.port, process };
}

/** Options of {@linkcode startFerretDb}. */
export interface StartFerretDbOptions {
  /** The MongoDB wire protocol port (127.0.0.1 only). */
  port: number;
  /** The PostgreSQL database that stores the data, as a URL; it must exist. */
  postgresUrl: string;
  /** Where FerretDB keeps its state file. */
  stateDir: string;
  /**
   * Equality lookups to serve with GIN indexes (FerretDB issue #4646; see `ferretdb_indexes.ts`), by
   * collection, e.g. the product store's `productEqualityLookups`. Without it, tables get no such index.
   */
  lookups?: EqualityLookups;
}

/**
 * Starts FerretDB on 127.0.0.1, storing its data in PostgreSQL.
 *
 * Why PostgreSQL and not SQLite: the product service relies on unique indexes and on single inserts
 * being atomic under concurrency. On PostgreSQL both are the database's own (a unique index on the
 * document expression, one row per insert, row-level locking); on SQLite every write takes the one
 * database-wide lock, and concurrent writers get SQLITE_BUSY errors instead of waiting. PostgreSQL is
 * also FerretDB's primary backend, and the one its production users run.
 *
 * The PostgreSQL database is prepared first (idempotently) so that equality lookups can be served by
 * indexes at all: see {@linkcode ensureFerretDbLookupIndexes} (FerretDB issue #4646).
 *
 * @example
 * ```ts ignore
 * const mongo = await startFerretDb(group, { port: 27017, postgresUrl, stateDir: ".local/ferretdb" });
 * mongo.url; // "mongodb://127.0.0.1:27017/"
 * ```
 */
export async function startFerretDb(
  group: ProcessGroup,
  options: StartFerretDbOptions,
): Promise<StartedServer> {
  await Deno.mkdir(options.stateDir, { recursive: true });
  // Custom plans and the lookup-index trigger, before FerretDB opens its first connection.
  await ensureFerretDbLookupIndexes(options.postgresUrl, options.lookups ?? {});
  const process = await group.start({
    name: "ferretdb",
    command: toolPath("ferretdb", "ferretdb"),
    args: [
      `--listen-addr=127.0.0.1:${options.port}`,
      "--handler=postgresql",
      `--postgresql-url=${options.postgresUrl}`,
      `--state-dir=${options.stateDir}`,
      // Its debug server listens on 127.0.0.1:8088 by default: a second instance could not start.
      "--debug-addr=-",
      "--telemetry=disable",
      "--log-level=warn",
    ],
    // FerretDB reads every flag from FERRETDB_<FLAG> too; a stray one must not override these.
    unsetEnv: envNamesStartingWith("FERRETDB_"),
  });
  await waitUntil(process, () => acceptsConnections(options.port));
  return { url: `mongodb://127.0.0.1:${options.port}/`, port: options.port, process };
}

/** Options of {@linkcode startStripeMock}. */
export interface StartStripeMockOptions {
  /** The HTTP port (127.0.0.1 only). */
  port: number;
}

/**
 * Starts stripe-mock, Stripe's official API mock, serving plain HTTP on 127.0.0.1 only (given no
 * address it would listen on every interface, with HTTPS on a second port).
 *
 * @example
 * ```ts ignore
 * const stripe = await startStripeMock(group, { port: 12111 });
 * stripe.url; // "http://127.0.0.1:12111"
 * ```
 */
export async function startStripeMock(
  group: ProcessGroup,
  options: StartStripeMockOptions,
): Promise<StartedServer> {
  const process = await group.start({
    name: "stripe-mock",
    command: toolPath("stripe-mock", "stripe-mock"),
    // Its HTTPS listener is on by default, on every interface at 12112 even when only -http-addr is
    // given: keep it on loopback and on a port the system picks, so it never collides or leaks.
    args: ["-http-addr", `127.0.0.1:${options.port}`, "-https-addr", "127.0.0.1:"],
    // stripe-mock also listens on $PORT when that is set.
    unsetEnv: ["PORT"],
  });
  await waitUntil(process, () => acceptsConnections(options.port));
  return { url: `http://127.0.0.1:${options.port}`, port: options.port, process };
}

/** Options of {@linkcode startMailpit}. */
export interface StartMailpitOptions {
  /** The SMTP port (127.0.0.1 only). */
  smtpPort: number;
  /** The port of its web UI and API (127.0.0.1 only). */
  httpPort: number;
  /** Its SQLite file: messages survive a restart on the same file. */
  database: string;
  /**
   * TLS for SMTP (PEM files): STARTTLS required, or TLS from the first byte when `implicit`. Plain SMTP
   * unless set.
   */
  tls?: { certFile: string; keyFile: string; implicit?: boolean };
  /** A password file (`user:password` lines): only those may send. Anyone, with or without, unless set. */
  authFile?: string;
}

/** A running Mailpit. */
export interface StartedMailpit extends StartedServer {
  /** `smtp://127.0.0.1:<smtpPort>`. */
  smtpUrl: string;
  /** The base URL of its UI and API, `http://127.0.0.1:<httpPort>` (`/api/v1/messages`). */
  apiUrl: string;
}

/**
 * Starts Mailpit, the mail catcher: it takes any message over SMTP (plain and open unless `tls` and
 * `authFile` say otherwise) and shows it in its UI and API, on 127.0.0.1 only, without looking for updates.
 *
 * @example
 * ```ts ignore
 * const mailpit = await startMailpit(group, { smtpPort: 1025, httpPort: 8025, database: `${dir}/mail.db` });
 * await fetch(`${mailpit.apiUrl}/api/v1/messages`);
 * ```
 */
export async function startMailpit(
  group: ProcessGroup,
  options: StartMailpitOptions,
): Promise<StartedMailpit> {
  const process = await group.start({
    name: "mailpit",
    command: toolPath("mailpit", "mailpit"),
    args: [
      "--smtp",
      `127.0.0.1:${options.smtpPort}`,
      "--listen",
      `127.0.0.1:${options.httpPort}`,
      "--database",
      options.database,
      ...(options.authFile === undefined
        ? ["--smtp-auth-accept-any", "--smtp-auth-allow-insecure"]
        : ["--smtp-auth-file", options.authFile]),
      ...(options.tls === undefined ? [] : [
        "--smtp-tls-cert",
        options.tls.certFile,
        "--smtp-tls-key",
        options.tls.keyFile,
        options.tls.implicit === true ? "--smtp-require-tls" : "--smtp-require-starttls",
      ]),
      "--smtp-disable-rdns",
      "--disable-version-check",
    ],
  });
  await waitUntil(process, () => acceptsConnections(options.smtpPort));
  await waitUntil(process, () => acceptsConnections(options.httpPort));
  const apiUrl = `http://127.0.0.1:${options.httpPort}`;
  return {
    url: apiUrl,
    port: options.httpPort,
    process,
    smtpUrl: `${options.tls?.implicit === true ? "smtps" : "smtp"}://127.0.0.1:${options.smtpPort}`,
    apiUrl,
  };
}

/** Options of {@linkcode startRedis}. */
export interface StartRedisOptions {
  /** The port (127.0.0.1 only). */
  port: number;
  /** The working directory; nothing is persisted there (no snapshots, no append-only file). */
  dataDir: string;
}

/**
 * Starts a Redis on 127.0.0.1 that keeps nothing on disk (no RDB snapshots, no AOF): the cart's store.
 *
 * @example
 * ```ts ignore
 * const redis = await startRedis(group, { port: 6379, dataDir: ".local/redis" });
 * redis.url; // "redis://127.0.0.1:6379"
 * ```
 */
export async function startRedis(group: ProcessGroup, options: StartRedisOptions): Promise<StartedServer> {
  await Deno.mkdir(options.dataDir, { recursive: true });
  const process = await group.start({
    name: "redis",
    command: toolPath("redis", "redis-server", { resolve: false }),
    args: [
      "--bind",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--dir",
      options.dataDir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "yes",
      // Redis writes its title over its environment by default, and with it the process group's mark:
      // a leftover of a crashed run could then not be found and killed (one held a port and a lock for
      // minutes). Without a title it keeps its environment.
      "--set-proc-title",
      "no",
    ],
  });
  await waitUntil(process, () => acceptsConnections(options.port));
  return { url: `redis://127.0.0.1:${options.port}`, port: options.port, process };
}

/**
 * Creates a database unless it exists, connecting to `url` (a server URL on any database).
 *
 * @example
 * ```ts ignore
 * const ferretUrl = await ensurePostgresDatabase(pg.url, "ferretdb");
 * ```
 */
export async function ensurePostgresDatabase(url: string, name: string): Promise<string> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const found = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (found.length === 0) await sql.unsafe(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } finally {
    await sql.end();
  }
  return withDatabase(url, name);
}

/**
 * The same PostgreSQL URL on another database.
 *
 * @example
 * ```ts ignore
 * withDatabase("postgres://postgres@127.0.0.1:5432/postgres", "orders");
 * // "postgres://postgres@127.0.0.1:5432/orders"
 * ```
 */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.href;
}

/**
 * Quotes a PostgreSQL identifier.
 *
 * @example
 * ```ts ignore
 * quoteIdentifier('my "db"'); // "\"my \"\"db\"\"\""
 * ```
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function envNamesStartingWith(prefix: string): string[] {
  return Object.keys(Deno.env.toObject()).filter((name) => name.startsWith(prefix));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}
