/**
 * The resolver: an in-memory copy of the registry, kept current by an etcd watch.
 *
 * @module
 */
import { serviceLogger } from "../log/logging.ts";
import { EtcdCompactedError, type EtcdKeyValue } from "./etcd_client.ts";
import {
  defaultPrefix,
  type InstanceRecord,
  normalizePrefix,
  parseInstanceKey,
  parseInstanceRecord,
} from "./instance.ts";
import { etcdClientFor, type EtcdTarget } from "./registration.ts";
import { sleep } from "./_sleep.ts";

/** One registered instance, as the resolver knows it. */
export interface Endpoint extends InstanceRecord {
  /** Its key in etcd. */
  readonly key: string;
  /** The etcd revision of the last change of the key. */
  readonly modRevision: bigint;
}

/** What changed for one service. */
export interface EndpointChange {
  service: string;
  added: Endpoint[];
  /** Same key, new value (a re-registration with a new lease counts). */
  updated: Endpoint[];
  removed: Endpoint[];
  /** The service's endpoints after the change. */
  endpoints: Endpoint[];
}

/** Whether the resolver's copy is current. */
export interface ResolverStatus {
  /**
   * `connecting` before the first answer from etcd, `synced` while listing and watching works,
   * `unreachable` while etcd does not answer (the last known endpoints are still served).
   */
  state: "connecting" | "synced" | "unreachable";
  /** What went wrong, while `unreachable`: names the etcd endpoint and the cause. */
  error?: string;
  /** When the endpoints were last confirmed against etcd. */
  lastSyncAt?: Date;
}

/** Options of {@linkcode createResolver}. */
export interface ResolverOptions {
  /** Where etcd is. */
  etcd: EtcdTarget;
  /** The key prefix; `/shop/services` unless set. */
  prefix?: string;
  /**
   * How often the watch is restarted from a fresh listing, in ms (30 s unless set): a safety net that
   * also ends a watch whose connection died without a word.
   */
  resyncIntervalMs?: number;
  /**
   * How long an endpoint that vanished while the watch was down is kept, in ms (15 s unless set). An
   * etcd that comes back without its data is empty until every instance has registered again (within
   * one third of their lease TTL); dropping everyone meanwhile would fail calls that the instances,
   * still serving, could answer. Deletions seen by the watch itself apply at once.
   */
  removalGraceMs?: number;
  /** The longest wait between attempts while etcd is unreachable, in ms (2 s unless set). */
  maxRetryDelayMs?: number;
}

/** An in-memory, watch-updated view of the registry. */
export interface Resolver extends AsyncDisposable {
  /** The prefix it watches. */
  readonly prefix: string;
  /** Whether its copy is current, and why not. */
  readonly status: ResolverStatus;
  /** The known endpoints of a service, in key order (empty when none). */
  endpoints(service: string): Endpoint[];
  /** Every known service with its endpoints. */
  services(): Map<string, Endpoint[]>;
  /** Calls `listener` on every change of a service's endpoints; returns the unsubscribe function. */
  onChange(listener: (change: EndpointChange) => void): () => void;
  /** Calls `listener` when the status changes; returns the unsubscribe function. */
  onStatus(listener: (status: ResolverStatus) => void): () => void;
  /**
   * Resolves once the endpoints have been listed from etcd at least once; rejects after `timeoutMs`
   * (5 s unless set) with the reason etcd could not be read.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops watching. */
  close(): Promise<void>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts a resolver: it lists `<prefix>/` and then watches from the next revision, keeping a set of
 * endpoints per service. A watch that ends for any reason (etcd stopped, connection lost, compaction,
 * the periodic resync) is followed by a new listing and a new watch, so no change is missed; while
 * etcd is unreachable the last known endpoints stay in place and `status` says why they may be stale.
 *
 * @example
 * ```ts ignore
 * const resolver = createResolver({ etcd: "http://127.0.0.1:2379" });
 * await resolver.ready();
 * resolver.endpoints("product"); // [{ url: "https://10.0.0.5:50052", ... }]
 * const stop = resolver.onChange((change) => console.info(change.service, change.endpoints.length));
 * stop();
 * await resolver.close();
 * ```
 */
export function createResolver(options: ResolverOptions): Resolver {
  const log = serviceLogger("discovery");
  const prefix = normalizePrefix(options.prefix ?? defaultPrefix);
  const watchPrefix = `${prefix}/`;
  const resyncMs = options.resyncIntervalMs ?? 30_000;
  const graceMs = options.removalGraceMs ?? 15_000;
  const maxRetryMs = options.maxRetryDelayMs ?? 2_000;
  const { client: etcd, owned } = etcdClientFor(options.etcd);

  /** service -> key -> endpoint. */
  const table = new Map<string, Map<string, Endpoint>>();
  /** Keys missing from a listing after trouble, removed when their grace period ends. */
  const pendingRemoval = new Map<string, ReturnType<typeof setTimeout>>();
  const changeListeners = new Set<(change: EndpointChange) => void>();
  const statusListeners = new Set<(status: ResolverStatus) => void>();
  const warnedKeys = new Set<string>();
  let status: ResolverStatus = { state: "connecting" };
  let everSynced = false;
  const stop = new AbortController();

  function setStatus(next: ResolverStatus): void {
    const changed = next.state !== status.state || next.error !== status.error;
    status = next;
    if (!changed) return;
    for (const listener of statusListeners) {
      try {
        listener(next);
      } catch (error) {
        log.error("A discovery status listener failed: {error}", { error });
      }
    }
  }

  function endpointOf(kv: EtcdKeyValue): Endpoint | undefined {
    const parsed = parseInstanceKey(prefix, kv.key);
    if (parsed === undefined) return undefined;
    const record = parseInstanceRecord(kv.value);
    if (
      record === undefined || record.service !== parsed.service || record.instanceId !== parsed.instanceId
    ) {
      if (!warnedKeys.has(kv.key)) log.warn("Ignoring {key}: not an instance record", { key: kv.key });
      warnedKeys.add(kv.key);
      return undefined;
    }
    return { ...record, key: kv.key, modRevision: kv.modRevision };
  }

  function sameRecord(a: Endpoint, b: Endpoint): boolean {
    const { modRevision: _a, ...restA } = a;
    const { modRevision: _b, ...restB } = b;
    return JSON.stringify(restA) === JSON.stringify(restB);
  }

  function emit(changes: Map<string, EndpointChange>): void {
    for (const change of changes.values()) {
      if (change.added.length + change.updated.length + change.removed.length === 0) continue;
      change.endpoints = listOf(change.service);
      for (const listener of changeListeners) {
        try {
          listener(change);
        } catch (error) {
          log.error("A discovery change listener failed: {error}", { error });
        }
      }
    }
  }

  function changeFor(changes: Map<string, EndpointChange>, service: string): EndpointChange {
    let change = changes.get(service);
    if (change === undefined) {
      change = { service, added: [], updated: [], removed: [], endpoints: [] };
      changes.set(service, change);
    }
    return change;
  }

  function upsert(changes: Map<string, EndpointChange>, endpoint: Endpoint): void {
    const timer = pendingRemoval.get(endpoint.key);
    if (timer !== undefined) {
      clearTimeout(timer);
      pendingRemoval.delete(endpoint.key);
    }
    let instances = table.get(endpoint.service);
    if (instances === undefined) {
      instances = new Map();
      table.set(endpoint.service, instances);
    }
    const before = instances.get(endpoint.key);
    instances.set(endpoint.key, endpoint);
    if (before === undefined) changeFor(changes, endpoint.service).added.push(endpoint);
    else if (!sameRecord(before, endpoint)) changeFor(changes, endpoint.service).updated.push(endpoint);
  }

  function remove(changes: Map<string, EndpointChange>, key: string): void {
    const timer = pendingRemoval.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      pendingRemoval.delete(key);
    }
    const parsed = parseInstanceKey(prefix, key);
    if (parsed === undefined) return;
    const instances = table.get(parsed.service);
    const before = instances?.get(key);
    if (instances === undefined || before === undefined) return;
    instances.delete(key);
    if (instances.size === 0) table.delete(parsed.service);
    changeFor(changes, parsed.service).removed.push(before);
  }

  /** Replaces the table with a listing; after trouble, missing endpoints get a grace period. */
  function applySnapshot(kvs: EtcdKeyValue[], afterTrouble: boolean): void {
    const changes = new Map<string, EndpointChange>();
    const present = new Set<string>();
    for (const kv of kvs) {
      const endpoint = endpointOf(kv);
      if (endpoint === undefined) continue;
      present.add(endpoint.key);
      upsert(changes, endpoint);
    }
    for (const instances of table.values()) {
      for (const key of instances.keys()) {
        if (present.has(key) || pendingRemoval.has(key)) continue;
        if (afterTrouble && graceMs > 0) {
          pendingRemoval.set(
            key,
            setTimeout(() => {
              pendingRemoval.delete(key);
              const late = new Map<string, EndpointChange>();
              remove(late, key);
              emit(late);
            }, graceMs),
          );
        } else {
          remove(changes, key);
        }
      }
    }
    emit(changes);
  }

  function applyEvents(events: Array<{ type: "put" | "delete"; kv: EtcdKeyValue }>): void {
    const changes = new Map<string, EndpointChange>();
    for (const event of events) {
      if (event.type === "delete") {
        remove(changes, event.kv.key);
        continue;
      }
      const endpoint = endpointOf(event.kv);
      if (endpoint === undefined) remove(changes, event.kv.key);
      else upsert(changes, endpoint);
    }
    emit(changes);
  }

  function listOf(service: string): Endpoint[] {
    const instances = table.get(service);
    if (instances === undefined) return [];
    return [...instances.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  const loop = (async () => {
    let retryMs = 100;
    let afterTrouble = false;
    while (!stop.signal.aborted) {
      let revision: bigint;
      try {
        const listing = await etcd.rangePrefix(watchPrefix, stop.signal);
        revision = listing.revision;
        applySnapshot(listing.kvs, afterTrouble);
      } catch (error) {
        if (stop.signal.aborted) break;
        const message = `etcd is unreachable at ${etcd.endpoint}: ${messageOf(error)}` +
          (everSynced ? "; serving the last known endpoints" : "; no endpoints known yet");
        if (status.state !== "unreachable") log.warn("Discovery: {message}", { message });
        setStatus({ state: "unreachable", error: message, ...lastSync() });
        afterTrouble = true;
        await sleep(retryMs, stop.signal);
        retryMs = Math.min(maxRetryMs, retryMs * 2);
        continue;
      }
      if (status.state === "unreachable") {
        log.info("Discovery: etcd at {endpoint} answers again", {
          endpoint: etcd.endpoint,
        });
      }
      everSynced = true;
      retryMs = 100;
      setStatus({ state: "synced", lastSyncAt: new Date() });
      afterTrouble = false;

      // Watch until the watch ends, or until the resync timer restarts it from a fresh listing.
      const round = new AbortController();
      const onStop = () => round.abort();
      stop.signal.addEventListener("abort", onStop, { once: true });
      const resync = setTimeout(() => round.abort(), resyncMs);
      try {
        for await (const events of etcd.watchPrefix(watchPrefix, revision + 1n, round.signal)) {
          applyEvents(events);
          status = { ...status, lastSyncAt: new Date() };
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        afterTrouble = true;
        if (error instanceof EtcdCompactedError) {
          log.info("Discovery: watch history compacted; listing again");
        } else {
          log.warn("Discovery: the watch ended ({error}); listing again", { error: messageOf(error) });
          await sleep(retryMs, stop.signal);
        }
      } finally {
        clearTimeout(resync);
        stop.signal.removeEventListener("abort", onStop);
      }
    }
  })();

  function lastSync(): { lastSyncAt?: Date } {
    return status.lastSyncAt === undefined ? {} : { lastSyncAt: status.lastSyncAt };
  }

  let closing: Promise<void> | undefined;
  const resolver: Resolver = {
    prefix,
    get status() {
      return { ...status };
    },
    endpoints: listOf,
    services() {
      return new Map([...table.keys()].sort().map((service) => [service, listOf(service)]));
    },
    onChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    ready(timeoutMs = 5_000) {
      if (everSynced) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          unsubscribe();
          reject(
            new Error(
              `discovery is not ready after ${timeoutMs} ms: ${
                status.error ?? `etcd at ${etcd.endpoint} has not answered`
              }`,
            ),
          );
        }, timeoutMs);
        const unsubscribe = resolver.onStatus(() => {
          if (!everSynced) return;
          clearTimeout(timer);
          unsubscribe();
          resolve();
        });
      });
    },
    close() {
      closing ??= (async () => {
        stop.abort();
        await loop;
        for (const timer of pendingRemoval.values()) clearTimeout(timer);
        pendingRemoval.clear();
        changeListeners.clear();
        statusListeners.clear();
        if (owned) etcd.close();
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return resolver.close();
    },
  };
  return resolver;
}
