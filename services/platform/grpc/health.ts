import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@shop/proto/grpc";

/** What a server says about itself or one of its services: ready for traffic or not. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/** What a watcher sees: a serving status, or `SERVICE_UNKNOWN` while the name has no status. */
export type WatchedStatus = ServingStatus | "SERVICE_UNKNOWN";

/**
 * The name the gRPC health protocol uses for the server as a whole (an empty service name).
 *
 * @example
 * ```ts
 * const health = createHealthState();
 * health.setStatus(OVERALL, "NOT_SERVING");
 * ```
 */
export const OVERALL = "";

/** Options of {@linkcode createHealthState}. */
export interface HealthStateOptions {
  /** The overall status the server starts with. Defaults to `SERVING`, as in grpc-go. */
  overall?: ServingStatus;
  /** Services known from the start, with the status each starts with. */
  services?: Readonly<Record<string, ServingStatus>>;
}

/**
 * The serving status of a server and of each service it serves, as reported by `grpc.health.v1.Health`.
 *
 * After {@linkcode HealthState.shutdown} every status is `NOT_SERVING` for good: later updates are ignored,
 * so a handler that races with shutdown cannot announce the server as ready again.
 */
export interface HealthState {
  /** Whether {@linkcode HealthState.shutdown} has been called. */
  readonly isShutdown: boolean;
  /**
   * Sets the status of one service, or of the whole server with {@linkcode OVERALL}, and tells watchers.
   * Ignored after shutdown.
   */
  setStatus(service: string, status: ServingStatus): void;
  /** The status of one service, or `undefined` when it has none. */
  status(service: string): ServingStatus | undefined;
  /** Every service with a status, the whole server (`""`) included. */
  statuses(): ReadonlyMap<string, ServingStatus>;
  /**
   * Follows the status of one service: yields the current status at once, then each change, and ends
   * when the signal aborts or the state shuts down (after yielding the final `NOT_SERVING`). A slow
   * reader skips intermediate statuses and sees the latest one, as in grpc-go.
   */
  watch(service: string, signal?: AbortSignal): AsyncIterable<WatchedStatus>;
  /** Sets every status, the overall one included, to `NOT_SERVING` and ends every watch. */
  shutdown(): void;
}

/**
 * Creates the health state a server reports through `grpc.health.v1.Health`.
 *
 * @example
 * ```ts
 * const health = createHealthState({ overall: "NOT_SERVING" });
 * health.setStatus("shop.product.v1.ProductService", "SERVING");
 * health.setStatus(OVERALL, "SERVING"); // once the database answers
 * // on SIGTERM, before closing the server, so load balancers stop sending traffic:
 * health.shutdown();
 * ```
 */
export function createHealthState(options: HealthStateOptions = {}): HealthState {
  return new MemoryHealthState(options);
}

/**
 * Registers `grpc.health.v1.Health` (Check, Watch and List) on a router, answering from `state`.
 *
 * Check answers `NOT_FOUND` for a service without a status; Watch sends `SERVICE_UNKNOWN` and keeps the
 * stream open until the service gets one, as the gRPC health checking protocol asks.
 *
 * @example
 * ```ts
 * import * as http2 from "node:http2";
 * import { connectNodeAdapter } from "@connectrpc/connect-node";
 * const health = createHealthState();
 * const handler = connectNodeAdapter({ routes: (router) => registerHealth(router, health) });
 * http2.createServer(handler).listen(8080);
 * ```
 */
export function registerHealth(router: ConnectRouter, state: HealthState): ConnectRouter {
  return router.service(Health, {
    check(request) {
      const status = state.status(request.service);
      if (status === undefined) {
        throw new ConnectError(`Unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      }
      return { status: toProtoStatus(status) };
    },
    async *watch(request, context) {
      for await (const status of state.watch(request.service, context.signal)) {
        yield { status: toProtoStatus(status) };
      }
    },
    list() {
      const statuses: Record<string, { status: HealthCheckResponse_ServingStatus }> = {};
      for (const [service, status] of state.statuses()) {
        statuses[service] = { status: toProtoStatus(status) };
      }
      return { statuses };
    },
  });
}

function toProtoStatus(status: WatchedStatus): HealthCheckResponse_ServingStatus {
  switch (status) {
    case "SERVING":
      return HealthCheckResponse_ServingStatus.SERVING;
    case "NOT_SERVING":
      return HealthCheckResponse_ServingStatus.NOT_SERVING;
    case "SERVICE_UNKNOWN":
      return HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
  }
}

/** One open watch: holds only the latest unseen status, so a stalled reader cannot grow memory. */
interface Watcher {
  readonly service: string;
  notify(status: WatchedStatus): void;
  end(): void;
}

class MemoryHealthState implements HealthState {
  #statuses = new Map<string, ServingStatus>();
  #watchers = new Set<Watcher>();
  #isShutdown = false;

  constructor(options: HealthStateOptions) {
    this.#statuses.set(OVERALL, options.overall ?? "SERVING");
    for (const [service, status] of Object.entries(options.services ?? {})) {
      this.#statuses.set(service, status);
    }
  }

  get isShutdown(): boolean {
    return this.#isShutdown;
  }

  setStatus(service: string, status: ServingStatus): void {
    if (this.#isShutdown) return;
    this.#update(service, status);
  }

  status(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  statuses(): ReadonlyMap<string, ServingStatus> {
    return new Map(this.#statuses);
  }

  shutdown(): void {
    if (this.#isShutdown) return;
    this.#isShutdown = true;
    for (const service of this.#statuses.keys()) this.#update(service, "NOT_SERVING");
    for (const watcher of this.#watchers) watcher.end();
  }

  watch(service: string, signal?: AbortSignal): AsyncIterable<WatchedStatus> {
    return this.#watch(service, signal);
  }

  #update(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const watcher of this.#watchers) {
      if (watcher.service === service) watcher.notify(status);
    }
  }

  async *#watch(service: string, signal: AbortSignal | undefined): AsyncGenerator<WatchedStatus> {
    let pending: WatchedStatus | undefined = this.#statuses.get(service) ?? "SERVICE_UNKNOWN";
    let ended = this.#isShutdown;
    let wake: (() => void) | undefined;
    const watcher: Watcher = {
      service,
      notify(status) {
        pending = status;
        wake?.();
      },
      end() {
        ended = true;
        wake?.();
      },
    };
    const onAbort = () => watcher.end();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) ended = true;
    this.#watchers.add(watcher);
    try {
      for (;;) {
        // A final status queued before the end (shutdown's NOT_SERVING) is still delivered, unless the
        // client is gone, in which case there is nobody to deliver it to.
        if (pending !== undefined && !signal?.aborted) {
          const status = pending;
          pending = undefined;
          yield status;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
    } finally {
      this.#watchers.delete(watcher);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
