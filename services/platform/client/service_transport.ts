import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { currentRequestId } from "../log/logging.ts";
import { requestIdHeader } from "../server/interceptors.ts";
import type { TlsFiles } from "../tls/tls_files.ts";
import { peerIdentityCheck } from "./peer_identity.ts";
import { clientTracingInterceptor } from "../tracing/interceptors.ts";

/** Options of {@linkcode createServiceTransport}. */
export interface ServiceTransportOptions {
  /** `https://host:port` of the service. */
  baseUrl: string;
  /** The caller's own certificate and key, and the CA the callee must be signed by. */
  tls: TlsFiles;
  /** The deadline of every call that does not set its own, in milliseconds (5 s unless set). */
  defaultTimeoutMs?: number;
  /** More interceptors, run after the kit's. */
  interceptors?: Interceptor[];
  /**
   * The shop identity the service must prove before any call is sent (`payment`: its certificate's URI
   * SAN is `spiffe://shop.local/payment`); see `peerIdentityCheck`. Unchecked when not given: the CA
   * and the host name only.
   */
  identity?: string;
}

/** A transport that also owns a connection pool, which its user closes when done. */
export interface ClosableTransport extends Transport {
  /** Closes the pooled connections. */
  close(): void;
}

/**
 * Passes the request id of the call being handled on to every outgoing call, so one id follows a
 * request through every service it touches.
 *
 * @example
 * ```ts
 * const interceptors = [requestIdPropagation()];
 * ```
 */
export function requestIdPropagation(): Interceptor {
  return (next) => (req) => {
    const requestId = currentRequestId();
    if (requestId && !req.header.has(requestIdHeader)) req.header.set(requestIdHeader, requestId);
    return next(req);
  };
}

/**
 * Reports a call that never reached the service (connection refused or reset, TLS failure) as
 * UNAVAILABLE, as gRPC does, rather than the UNKNOWN that `fetch`'s TypeError becomes: callers retry
 * UNAVAILABLE on another instance.
 *
 * @example
 * ```ts
 * const interceptors = [connectionFailuresAsUnavailable()];
 * ```
 */
export function connectionFailuresAsUnavailable(): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.Unknown && connectError.cause instanceof TypeError) {
        throw new ConnectError(
          `${req.url} is unreachable: ${connectError.cause.message}`,
          Code.Unavailable,
          undefined,
          undefined,
          connectError.cause,
        );
      }
      throw error;
    }
  };
}

/**
 * A transport for calling another shop service over mTLS with the caller's certificate, a default
 * deadline on every call, the current request id passed on, and a client span per call whose trace
 * context goes out in `traceparent`.
 *
 * It speaks the Connect protocol (binary) through Deno's own `fetch` with a client certificate
 * (`Deno.createHttpClient`), HTTP/2 by ALPN. Not gRPC through `node:http2`: a Deno process holding a
 * `node:http2` client session can crash when the server it talks to shuts down (an nghttp2 assertion in
 * GOAWAY handling, denoland/deno#36788; reproduced here in 6 of 20 runs), and a service must survive its
 * callee's restart. The shop's servers speak Connect as well as gRPC, so nothing is lost.
 *
 * @example
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { InventoryService } from "@shop/proto/product";
 * import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";
 * const tls = await readTlsFiles(await ensureDevCertificates(), "order");
 * const transport = createServiceTransport({ baseUrl: "https://127.0.0.1:50052", tls, identity: "product" });
 * const inventory = createClient(InventoryService, transport);
 * transport.close();
 * ```
 */
export function createServiceTransport(options: ServiceTransportOptions): ClosableTransport {
  const httpClient = Deno.createHttpClient({
    caCerts: [options.tls.ca],
    cert: options.tls.cert,
    key: options.tls.key,
  });
  const transport = createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: true,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 5_000,
    fetch: (input, init) => fetch(input, { ...init, client: httpClient }),
    interceptors: [
      ...(options.identity === undefined ? [] : [
        peerIdentityCheck({
          url: options.baseUrl,
          identity: options.identity,
          tls: options.tls,
          warm: true,
        }),
      ]),
      clientTracingInterceptor(),
      connectionFailuresAsUnavailable(),
      requestIdPropagation(),
      ...(options.interceptors ?? []),
    ],
  });
  return { ...transport, close: () => httpClient.close() };
}
