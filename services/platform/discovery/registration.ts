/**
 * Registering a running server in etcd, kept alive by a lease, and leaving before the server stops.
 *
 * @module
 */
import { serviceLogger } from "../log/logging.ts";
import type { RunningServer } from "../server/start_server.ts";
import { EtcdClient, EtcdError, type EtcdOptions } from "./etcd_client.ts";
import { assertKeySegment, defaultPrefix, instanceKey, type InstanceRecord } from "./instance.ts";
import { sleep } from "./_sleep.ts";

/** How to reach etcd: a client to share, its options, or its URL(s) (`http://a:2379,http://b:2379`). */
export type EtcdTarget = EtcdClient | EtcdOptions | string;

/**
 * Makes a client for `target`, and says whether the caller owns it (and closes it) or was given it.
 *
 * @example
 * ```ts
 * const { client, owned } = etcdClientFor("http://127.0.0.1:2379");
 * if (owned) client.close();
 * ```
 */
export function etcdClientFor(target: EtcdTarget): { client: EtcdClient; owned: boolean } {
  if (target instanceof EtcdClient) return { client: target, owned: false };
  const options = typeof target === "string" ? { endpoints: target } : target;
  return { client: new EtcdClient(options), owned: true };
}

/** Options of {@linkcode registerInstance}. */
export interface RegisterOptions {
  /** Where etcd is. */
  etcd: EtcdTarget;
  /** The service's name, one key segment: `product`. */
  service: string;
  /** Unique per process; `<service>-<hostname>-<pid>-<random>` unless set. */
  instanceId?: string;
  /** The key prefix; `/shop/services` unless set. */
  prefix?: string;
  /** The lease's TTL in seconds: how long a dead instance stays listed at most (10 unless set, min 2). */
  ttlSeconds?: number;
  /**
   * The host name or address callers dial; the host of `server.url` unless set. Required when the
   * server listens on every interface (`0.0.0.0`, `::`).
   */
  advertiseHost?: string;
  /** The service's version; `SHOP_VERSION` from the environment, or `dev`. */
  version?: string;
  /** Extra facts for consumers (zone, weight), as strings. */
  metadata?: Record<string, string>;
}

/** An instance's registration. */
export interface Registration {
  /** The key it is registered under. */
  readonly key: string;
  /** The record stored at the key. */
  readonly record: InstanceRecord;
  /** Whether the key is in etcd as far as the last exchange with etcd tells. */
  readonly registered: boolean;
  /**
   * Stops keeping the lease alive and revokes it, which deletes the key at once. Runs by itself at
   * the start of the server's shutdown; calling it again does nothing.
   */
  deregister(): Promise<void>;
}

/** The part of a {@linkcode RunningServer} that registration needs. */
export type RegistrableServer = Pick<RunningServer, "url" | "onShutdown">;

const anyAddress = new Set(["0.0.0.0", "[::]", "::", ""]);

/**
 * Registers a running server under `<prefix>/<service>/<instanceId>` with a lease of `ttlSeconds`,
 * and keeps it registered: the lease is renewed every third of its TTL, and when it is lost (etcd
 * restarted without its data, a network partition or a pause longer than the TTL) a new lease is
 * granted and the key written again. The first attempt is awaited; when etcd is down it is logged and
 * retried in the background, and the server serves anyway.
 *
 * It adds a `deregister` shutdown hook to the server: the lease is revoked (the key disappears, and
 * every resolver's watch sees it) while the server still serves and its health is already NOT_SERVING,
 * before it stops accepting calls.
 *
 * @example
 * ```ts ignore
 * const server = await startServer({ service: "product", port: 50052, transport: { tls }, routes });
 * await registerInstance(server, { etcd: "http://127.0.0.1:2379", service: "product", version: "1.4.0" });
 * stopOnSignals(server);
 * ```
 */
export async function registerInstance(
  server: RegistrableServer,
  options: RegisterOptions,
): Promise<Registration> {
  const log = serviceLogger("discovery");
  assertKeySegment("service", options.service);
  const ttlSeconds = Math.max(2, Math.round(options.ttlSeconds ?? 10));
  const url = new URL(server.url);
  const listenHost = url.hostname;
  const address = (options.advertiseHost ?? (anyAddress.has(listenHost) ? Deno.hostname() : listenHost))
    .replace(/^\[(.*)\]$/, "$1");
  const hostname = Deno.hostname();
  const instanceId = options.instanceId ??
    `${options.service}-${hostname.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40)}-${Deno.pid}-${
      crypto.randomUUID().slice(0, 6)
    }`;
  const key = instanceKey(options.prefix ?? defaultPrefix, options.service, instanceId);
  const tls = url.protocol === "https:";
  const port = Number(url.port || (tls ? 443 : 80));
  const record: InstanceRecord = {
    service: options.service,
    instanceId,
    address,
    port,
    url: `${url.protocol}//${address.includes(":") ? `[${address}]` : address}:${port}`,
    protocols: ["grpc", "grpc-web", "connect"],
    tls,
    mtls: tls,
    metricsPath: "/metrics",
    healthService: "grpc.health.v1.Health",
    version: options.version ?? Deno.env.get("SHOP_VERSION") ?? "dev",
    startTime: new Date().toISOString(),
    hostname,
    pid: Deno.pid,
    metadata: { ...options.metadata },
  };
  const value = JSON.stringify(record);
  const { client: etcd, owned } = etcdClientFor(options.etcd);

  const stop = new AbortController();
  let lease: string | undefined;
  let registered = false;
  /** Whether the last exchange failed, so the next success is worth a log line. */
  let troubled = false;
  const renewEveryMs = Math.floor((ttlSeconds * 1000) / 3);
  const retryMs = Math.min(1_000, renewEveryMs);

  async function register(): Promise<void> {
    const granted = await etcd.grantLease(ttlSeconds, stop.signal);
    lease = granted.id;
    await etcd.put(key, value, granted.id, stop.signal);
    registered = true;
  }

  function trouble(message: string, error: unknown): void {
    if (!troubled) log.warn(message, { key, error, endpoint: etcd.endpoint });
    troubled = true;
  }

  function recovered(): void {
    if (troubled) log.info("Registered as {key} again", { key });
    troubled = false;
  }

  /** One step of the keep-alive loop; returns how long to wait before the next. */
  async function step(): Promise<number> {
    if (lease === undefined) {
      try {
        await register();
        recovered();
        return renewEveryMs;
      } catch (error) {
        if (stop.signal.aborted) return 0;
        trouble("Cannot register {key} in etcd at {endpoint} yet; retrying: {error}", error);
        return retryMs;
      }
    }
    try {
      const ttl = await etcd.keepAlive(lease, stop.signal);
      if (ttl > 0) {
        if (troubled) {
          // The lease survived the trouble (etcd restarted with its data, or a short blip); write the
          // key again in case it was deleted meanwhile. Writing the same value is harmless.
          await etcd.put(key, value, lease, stop.signal);
        }
        registered = true;
        recovered();
        return renewEveryMs;
      }
      log.warn("The lease of {key} is gone (expired, or etcd lost it); registering again", { key });
      lease = undefined;
      registered = false;
      troubled = true;
      return 0;
    } catch (error) {
      if (stop.signal.aborted) return 0;
      if (error instanceof EtcdError && error.code === 5) {
        lease = undefined;
        registered = false;
        return 0;
      }
      trouble("Cannot renew the lease of {key} at {endpoint}; retrying: {error}", error);
      return retryMs;
    }
  }

  // The first attempt is awaited, so a service that can register has done so when this returns.
  let wait = await step();
  if (registered) log.info("Registered as {key} (lease TTL {ttlSeconds} s)", { key, ttlSeconds });
  const loop = (async () => {
    while (!stop.signal.aborted) {
      await sleep(wait, stop.signal);
      if (stop.signal.aborted) break;
      wait = await step();
    }
  })();

  let leaving: Promise<void> | undefined;
  async function leave(): Promise<void> {
    stop.abort();
    await loop;
    const current = lease;
    lease = undefined;
    registered = false;
    try {
      if (current !== undefined) await etcd.revokeLease(current);
      log.info("Deregistered {key}", { key });
    } catch (error) {
      log.warn("Cannot revoke the lease of {key}; it expires within {ttlSeconds} s: {error}", {
        key,
        ttlSeconds,
        error,
      });
    } finally {
      if (owned) etcd.close();
    }
  }

  const registration: Registration = {
    key,
    record,
    get registered() {
      return registered;
    },
    deregister() {
      leaving ??= leave();
      return leaving;
    },
  };
  server.onShutdown("deregister", () => registration.deregister());
  return registration;
}
