/**
 * Retries for a transport to one fixed URL (a service configured with an address, not found through
 * the registry), by the rules and under the kind of retry budget the discovery transport uses.
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
import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { ClosableTransport } from "../client/service_transport.ts";
import { RetryBudget } from "../client/retry_budget.ts";
import { sleep } from "./_sleep.ts";
import {
  declaredIdempotent,
  neverReachedServer,
  refusedAsOverloaded,
  refusedWhileShuttingDown,
  retryDelayMs,
} from "./discovery_transport.ts";

/** Options of {@linkcode withFixedUrlRetries}. */
export interface FixedUrlRetryOptions {
  /** Attempts per call, the first included (3 unless set). */
  maxAttempts?: number;
  /** Shared by every call of the transport (a new one, 20% of the calls with a burst of 10, unless set). */
  retryBudget?: RetryBudget;
  /** Which methods may run twice after an UNAVAILABLE (the proto's `idempotency_level` unless set). */
  isIdempotent?: (method: DescMethod) => boolean;
  /** The deadline of a call that sets none, ms (5 000 unless set, as the transport's own default). */
  defaultTimeoutMs?: number;
}

/** The wait before trying the same address again after it could not be reached or was leaving, ms. */
const sameAddressBackoffMs = 100;

/**
 * `transport` with unary calls tried again when that is safe, within the call's deadline: refused at
 * the server's in-flight limit (RESOURCE_EXHAUSTED OVERLOADED: never started; after the RetryInfo
 * delay), never reached a server (connection refused), refused while the server was shutting down, or
 * UNAVAILABLE from a method declared idempotent. Behind a fixed URL (a Kubernetes Service, a load
 * balancer) the next attempt may reach another instance. Every retry spends from one budget, so
 * retries cannot multiply an overload; streams are not retried.
 *
 * @example
 * ```ts ignore
 * const transport = withFixedUrlRetries(createServiceTransport({ baseUrl, tls, identity: "product" }));
 * ```
 */
export function withFixedUrlRetries(
  transport: ClosableTransport,
  options: FixedUrlRetryOptions = {},
): ClosableTransport {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const retryBudget = options.retryBudget ?? new RetryBudget();
  const isIdempotent = options.isIdempotent ?? declaredIdempotent;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 5_000;

  function retryable(error: ConnectError, method: DescMethod): boolean {
    if (refusedAsOverloaded(error) || neverReachedServer(error) || refusedWhileShuttingDown(error)) {
      return true;
    }
    return error.code === Code.Unavailable && isIdempotent(method);
  }

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const deadline = Date.now() + (timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : defaultTimeoutMs);
      retryBudget.onCall();
      for (let attempt = 1;; attempt++) {
        try {
          return await transport.unary(
            method,
            signal,
            deadline - Date.now(),
            new Headers(header),
            input,
            contextValues,
          );
        } catch (error) {
          const last = ConnectError.from(error);
          if (signal?.aborted || attempt >= maxAttempts || !retryable(last, method)) throw last;
          // Spread the retries of many refused callers over the delay the server asked for.
          const waitMs = (refusedAsOverloaded(last) ? retryDelayMs(last, Infinity) : sameAddressBackoffMs) *
            (0.5 + Math.random());
          if (Date.now() + waitMs >= deadline || !retryBudget.tryRetry()) throw last;
          await sleep(waitMs, signal);
          if (signal?.aborted) throw ConnectError.from(signal.reason ?? new Error("aborted"), Code.Canceled);
        }
      }
    },
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      return transport.stream(method, signal, timeoutMs, header, input, contextValues);
    },
    close: () => transport.close(),
  };
}
