/**
 * Where the bridge learns which instances of each service exist: an interface, so the registry (etcd),
 * a static list (dev without a registry, tests) or anything else can feed the same EDS writer.
 *
 * @module
 */

/** One instance of a service that can take traffic. */
export interface Endpoint {
  /** The service's name, which is also its cluster's name in Envoy: `user`, `product`, ... */
  service: string;
  /** An IP address (Envoy's EDS wants an address, not a host name to resolve). */
  address: string;
  port: number;
  /**
   * How many calls the instance handles at once before it refuses more (its registered
   * `server.maxInFlight`); the gateway sheds a cluster's calls beyond the sum. Unknown: no limit there.
   */
  capacity?: number;
}

/** A live list of endpoints. */
export interface EndpointSource {
  /**
   * Calls `onChange` with the complete current list, then again with the complete list after every
   * change, until {@linkcode EndpointSource.close}. Resolves once the first list has been delivered.
   */
  watch(onChange: (endpoints: readonly Endpoint[]) => void | Promise<void>): Promise<void>;
  /** Stops watching; no call of `onChange` starts afterwards. */
  close(): Promise<void>;
}

/**
 * A fixed list that can be replaced at run time: the source for dev without a registry, and for tests
 * that add and remove instances.
 *
 * @example
 * ```ts
 * const source = new StaticEndpointSource([{ service: "user", address: "127.0.0.1", port: 50051 }]);
 * await source.watch((endpoints) => console.log(endpoints.length));
 * await source.set([]);
 * await source.close();
 * ```
 */
export class StaticEndpointSource implements EndpointSource {
  #endpoints: readonly Endpoint[];
  #listeners = new Set<(endpoints: readonly Endpoint[]) => void | Promise<void>>();

  constructor(endpoints: readonly Endpoint[]) {
    this.#endpoints = [...endpoints];
  }

  async watch(onChange: (endpoints: readonly Endpoint[]) => void | Promise<void>): Promise<void> {
    this.#listeners.add(onChange);
    await onChange(this.#endpoints);
  }

  /** Replaces the list and waits until every watcher has seen it. */
  async set(endpoints: readonly Endpoint[]): Promise<void> {
    this.#endpoints = [...endpoints];
    await Promise.all([...this.#listeners].map((listener) => listener(this.#endpoints)));
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }
}

/**
 * Parses `service=address:port` entries (`user=127.0.0.1:50051`), the form the static source takes from
 * configuration. Throws on a malformed entry, naming it.
 *
 * @example
 * ```ts
 * parseStaticEndpoints(["user=127.0.0.1:50051"]); // [{ service: "user", address: "127.0.0.1", port: 50051 }]
 * ```
 */
export function parseStaticEndpoints(entries: readonly string[]): Endpoint[] {
  return entries.map((entry) => {
    const match = /^([a-z][a-z0-9-]*)=(\[[0-9a-fA-F:]+\]|[0-9.]+):(\d{1,5})$/.exec(entry.trim());
    const port = Number(match?.[3]);
    if (!match || !match[1] || !match[2] || port < 1 || port > 65535) {
      throw new Error(`endpoint "${entry}" is not service=address:port with an IP address`);
    }
    return { service: match[1], address: match[2].replace(/^\[|\]$/g, ""), port };
  });
}
