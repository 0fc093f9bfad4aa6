/**
 * A Connect transport that calls a service by name: endpoints from the resolver, calls spread over the
 * healthy ones, failover where a retry is safe.
 *
 * @module
 */
import type {
  DescMessage,
  DescMethod,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ContextValues,
  type Interceptor,
  type StreamResponse,
  type UnaryResponse,
} from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@shop/proto/google";
import { PeerIdentityError } from "../client/peer_identity.ts";
import { type ClosableTransport, createServiceTransport } from "../client/service_transport.ts";
import { RetryBudget } from "../client/retry_budget.ts";
import { overloadedReason } from "../server/admission.ts";
import { errorDomain } from "../errors/to_connect_error.ts";
import { serviceLogger } from "../log/logging.ts";
import type { TlsFiles } from "../tls/tls_files.ts";
import type { Endpoint, Resolver } from "./resolver.ts";

/** Options of {@linkcode createDiscoveryTransport}. */
export interface DiscoveryTransportOptions {
  /** Where endpoints come from. */
  resolver: Resolver;
  /** The service to call, as registered: `product`. */
  service: string;
  /**
   * The shop identity every endpoint must prove before a call is sent to it (its certificate's URI SAN
   * `spiffe://shop.local/<identity>`); `service` unless set. An endpoint that names another is skipped.
   */
  identity?: string;
  /** The caller's own certificate and key, and the CA the callee must be signed by. */
  tls: TlsFiles;
  /**
   * The deadline of every call that sets none, in ms (5 s unless set). It covers the whole call,
   * retries included.
   */
  defaultTimeoutMs?: number;
  /** The most endpoints one call tries (3 unless set); each attempt goes to a different endpoint. */
  maxAttempts?: number;
  /**
   * Whether a method may run twice; a call that failed with UNAVAILABLE after it may have reached the
   * handler is retried only then. Unless set: the method's `idempotency_level` in its proto
   * (NO_SIDE_EFFECTS or IDEMPOTENT).
   */
  isIdempotent?: (method: DescMethod) => boolean;
  /** How long an endpoint that could not be reached is skipped at first, in ms (1 s unless set). */
  ejectionMs?: number;
  /** More interceptors for every endpoint's transport, run after the kit's. */
  interceptors?: Interceptor[];
  /**
   * The budget every retry of this transport spends from (a new one per transport unless given: 20% of
   * calls plus a burst of 10), so that retries cannot multiply the load on a failing or busy service.
   */
  retryBudget?: RetryBudget;
}

/** The longest an unreachable endpoint is skipped, however often it failed. */
const maxEjectionMs = 30_000;

interface Member {
  endpoint: Endpoint;
  transport: ClosableTransport;
  /** Calls running on it: a removed member is closed only when they are done. */
  inFlight: number;
  removed: boolean;
  ejectedUntil: number;
  failures: number;
}

/**
 * Whether an error says the call never reached a server: the connection was refused or could not be
 * set up, or the server refused the stream before running anything (HTTP/2 REFUSED_STREAM).
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * neverReachedServer(new ConnectError("down", Code.Unavailable)); // false
 * ```
 */
export function neverReachedServer(error: ConnectError): boolean {
  if (error.code !== Code.Unavailable) return false;
  let current: unknown = error.cause;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    // The identity check failed before anything was sent (no handshake, or the wrong service).
    if (current instanceof PeerIdentityError) return true;
    // Deno's fetch reports a failure to connect as "client error (Connect)", with the OS reason.
    if (
      /client error \(Connect\)|tcp connect error|Connection refused|refused stream/i.test(current.message)
    ) {
      return true;
    }
    current = current.cause;
  }
  return false;
}

/**
 * Whether a server refused the call because it is shutting down (the kit's drain interceptor): the
 * handler never ran.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * refusedWhileShuttingDown(new ConnectError("bye", Code.Unavailable)); // false
 * ```
 */
export function refusedWhileShuttingDown(error: ConnectError): boolean {
  if (error.code !== Code.Unavailable) return false;
  return error.findDetails(ErrorInfoSchema).some((info) =>
    info.reason === "SHUTTING_DOWN" && info.domain === errorDomain
  );
}

/**
 * Whether a server refused the call because it was at its in-flight limit (the kit's load shedding):
 * the call never started, so it may go again, after the RetryInfo delay.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * refusedAsOverloaded(new ConnectError("busy", Code.ResourceExhausted)); // false: no ErrorInfo OVERLOADED
 * ```
 */
export function refusedAsOverloaded(error: ConnectError): boolean {
  if (error.code !== Code.ResourceExhausted) return false;
  return error.findDetails(ErrorInfoSchema).some((info) =>
    info.reason === overloadedReason && info.domain === errorDomain
  );
}

/** The RetryInfo delay of an error in ms, at most `capMs` (100 ms when it has none). */
export function retryDelayMs(error: ConnectError, capMs: number): number {
  const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  const ms = delay === undefined ? 100 : Number(delay.seconds) * 1000 + delay.nanos / 1_000_000;
  return Math.min(capMs, ms);
}

/**
 * Whether the proto declares a method free of side effects or idempotent (`option idempotency_level`).
 *
 * @example
 * ```ts ignore
 * declaredIdempotent(ProductService.method.getProduct); // true: NO_SIDE_EFFECTS
 * ```
 */
export function declaredIdempotent(method: DescMethod): boolean {
  return method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT;
}

function deadlineExceeded(service: string, timeoutMs: number, last: ConnectError | undefined): ConnectError {
  const detail = last === undefined ? "" : ` (last failure: ${last.rawMessage})`;
  return new ConnectError(`${service}: no answer within ${timeoutMs} ms${detail}`, Code.DeadlineExceeded);
}

async function* replay<T>(messages: readonly T[]): AsyncIterable<T> {
  for (const message of messages) yield message;
}

/**
 * A transport that calls the instances of `service` the resolver knows: round robin over the endpoints
 * that are not ejected, each through the kit's `createServiceTransport` (Connect over Deno's fetch with
 * the caller's mTLS certificate; one per endpoint, closed when the endpoint goes away).
 *
 * A call that fails with UNAVAILABLE is tried again on another endpoint, within the same deadline,
 * when that is safe: it never reached a server (connection refused; that endpoint is then skipped for
 * a while), the server refused it while shutting down (SHUTTING_DOWN: the handler never ran), or the
 * method is idempotent. A call an instance refused at its in-flight limit (RESOURCE_EXHAUSTED, ErrorInfo
 * OVERLOADED: it never started) goes again after the RetryInfo delay, to another endpoint when there is
 * one. Every retry spends from one retry budget per transport ({@linkcode RetryBudget}): when it is
 * spent, the call fails with its last error. Every other error goes to the caller as it is.
 * Server-streaming calls fail over the same way until the response starts; client and bidi streams are
 * not retried.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "@connectrpc/connect";
 * import { InventoryService } from "@shop/proto/product";
 * const transport = createDiscoveryTransport({ resolver, service: "product", tls });
 * const inventory = createClient(InventoryService, transport);
 * transport.close();
 * ```
 */
export function createDiscoveryTransport(options: DiscoveryTransportOptions): ClosableTransport {
  const log = serviceLogger("discovery");
  const { resolver, service, tls } = options;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 5_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const isIdempotent = options.isIdempotent ?? declaredIdempotent;
  const ejectionMs = options.ejectionMs ?? 1_000;
  const retryBudget = options.retryBudget ?? new RetryBudget();
  const members = new Map<string, Member>();
  let next = 0;
  let closed = false;

  function closeIfIdle(member: Member): void {
    if (member.removed && member.inFlight === 0) member.transport.close();
  }

  function retire(member: Member): void {
    member.removed = true;
    members.delete(member.endpoint.key);
    closeIfIdle(member);
  }

  function sync(endpoints: readonly Endpoint[]): void {
    const keep = new Set<string>();
    for (const endpoint of endpoints) {
      keep.add(endpoint.key);
      const member = members.get(endpoint.key);
      if (member !== undefined && member.endpoint.url === endpoint.url) {
        member.endpoint = endpoint;
        continue;
      }
      if (member !== undefined) retire(member);
      members.set(endpoint.key, {
        endpoint,
        transport: createServiceTransport({
          baseUrl: endpoint.url,
          tls,
          identity: options.identity ?? service,
          defaultTimeoutMs,
          ...(options.interceptors === undefined ? {} : { interceptors: options.interceptors }),
        }),
        inFlight: 0,
        removed: false,
        ejectedUntil: 0,
        failures: 0,
      });
    }
    for (const member of [...members.values()]) {
      if (!keep.has(member.endpoint.key)) retire(member);
    }
  }

  sync(resolver.endpoints(service));
  const unsubscribe = resolver.onChange((change) => {
    if (change.service === service && !closed) sync(change.endpoints);
  });

  /**
   * The next endpoint in round-robin order that this call has not tried, preferring healthy ones; with
   * `again`, one it has tried when every endpoint has been.
   */
  function pick(tried: ReadonlySet<string>, again = false): Member | undefined {
    let candidates = [...members.values()].filter((m) => !tried.has(m.endpoint.key));
    if (candidates.length === 0 && again) candidates = [...members.values()];
    if (candidates.length === 0) return undefined;
    const now = Date.now();
    const healthy = candidates.filter((m) => m.ejectedUntil <= now);
    // When every candidate is ejected, try the one whose ejection ends first rather than fail outright.
    if (healthy.length === 0) return candidates.sort((a, b) => a.ejectedUntil - b.ejectedUntil)[0];
    next = (next + 1) % 1_000_000_000;
    return healthy[next % healthy.length];
  }

  function noEndpoints(): ConnectError {
    const discovery = resolver.status;
    const why = discovery.state === "synced"
      ? "none is registered"
      : `discovery is ${discovery.state}${discovery.error === undefined ? "" : `: ${discovery.error}`}`;
    return new ConnectError(`no endpoint of service ${service} to call (${why})`, Code.Unavailable);
  }

  function eject(member: Member): void {
    member.failures++;
    const ms = Math.min(maxEjectionMs, ejectionMs * 2 ** Math.min(member.failures - 1, 10));
    member.ejectedUntil = Date.now() + ms;
    if (member.failures === 1) {
      log.info("Skipping {url} of {service} for {ms} ms: unreachable", {
        url: member.endpoint.url,
        service,
        ms,
      });
    }
  }

  function retryable(error: ConnectError, method: DescMethod, member: Member): boolean {
    if (refusedAsOverloaded(error)) return true;
    if (error.code !== Code.Unavailable) return false;
    if (neverReachedServer(error)) {
      eject(member);
      return true;
    }
    if (refusedWhileShuttingDown(error)) {
      // It is leaving; the resolver will drop it in a moment.
      member.ejectedUntil = Date.now() + maxEjectionMs;
      return true;
    }
    return isIdempotent(method);
  }

  /** Runs `attempt` on endpoint after endpoint until it succeeds, fails for good, or time runs out. */
  async function withFailover<T>(
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    attempt: (member: Member, remainingMs: number) => Promise<T>,
    attemptLimit = maxAttempts,
  ): Promise<T> {
    if (closed) throw new ConnectError(`the transport to ${service} is closed`, Code.Canceled);
    const budget = timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : defaultTimeoutMs;
    const deadline = Date.now() + budget;
    const tried = new Set<string>();
    let last: ConnectError | undefined;
    retryBudget.onCall();
    for (let attempts = 0; attempts < attemptLimit; attempts++) {
      const overloaded = last !== undefined && refusedAsOverloaded(last);
      if (last !== undefined) {
        if (!retryBudget.tryRetry()) throw last;
        if (overloaded) {
          // Spread the retries of many refused callers over the delay the server asked for.
          const waitMs = retryDelayMs(last, deadline - Date.now()) * (0.5 + Math.random());
          await new Promise((resolve) => setTimeout(resolve, waitMs));
        }
      }
      const member = pick(tried, overloaded);
      if (member === undefined) break;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw deadlineExceeded(service, budget, last);
      tried.add(member.endpoint.key);
      member.inFlight++;
      try {
        const result = await attempt(member, remainingMs);
        member.failures = 0;
        member.ejectedUntil = 0;
        return result;
      } catch (error) {
        const connectError = ConnectError.from(error);
        if (signal?.aborted || !retryable(connectError, method, member)) throw connectError;
        last = connectError;
      } finally {
        member.inFlight--;
        closeIfIdle(member);
      }
    }
    throw last ?? noEndpoints();
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      return withFailover(
        method,
        signal,
        timeoutMs,
        (member, remainingMs) =>
          member.transport.unary(method, signal, remainingMs, new Headers(header), input, contextValues),
      );
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      if (method.methodKind !== "server_streaming") {
        // The input cannot be replayed: one endpoint, no failover.
        return withFailover(
          method,
          signal,
          timeoutMs,
          (member, remainingMs) =>
            member.transport.stream(method, signal, remainingMs, new Headers(header), input, contextValues),
          1,
        );
      }
      // A server stream has exactly one request message: read it once, send it to each attempt.
      const messages: MessageInitShape<I>[] = [];
      for await (const message of input) messages.push(message);
      return withFailover(
        method,
        signal,
        timeoutMs,
        (member, remainingMs) =>
          member.transport.stream(
            method,
            signal,
            remainingMs,
            new Headers(header),
            replay(messages),
            contextValues,
          ),
      );
    },
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const member of [...members.values()]) retire(member);
    },
  };
}
