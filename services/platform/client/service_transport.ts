import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { currentRequestId } from "../log/logging.ts";
import { requestIdHeader } from "../server/interceptors.ts";
import type { TlsFiles } from "../tls/tls_files.ts";
import { openEndpointTunnel } from "./endpoint_tunnel.ts";
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
   * The shop identity the service must prove, whatever address `baseUrl` dials (a pod IP is in no
   * certificate): every connection verifies that the callee's certificate chains to `tls.ca` and names
   * `identity` as a DNS SAN (TLS with SNI and the host name check against `payment`), and before any
   * call is sent its URI SAN must be `spiffe://shop.local/payment` (`peerIdentityCheck`). When not given:
   * the CA and `baseUrl`'s host only.
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

/** An error's message and its causes' (fetch's own says only "fetch failed"; the reason is its cause). */
function causeChain(error: Error): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    messages.push(current.message);
    current = current.cause;
  }
  return messages.join(": ");
}

/**
 * Reports a call that never reached the service (connection refused or reset, TLS failure) as
 * UNAVAILABLE, as gRPC does, rather than the UNKNOWN that `fetch`'s TypeError becomes: callers retry
 * UNAVAILABLE on another instance.
 *
 * @example
 * ```ts
 * const interceptors = [connectionFailuresAsUnavailable("https://10.0.3.7:50052")];
 * ```
 *
 * @param address The address dialed, named in the message when the calls' URLs name the service
 * instead (`https://product:50052/...` through the endpoint's relay).
 */
export function connectionFailuresAsUnavailable(address?: string): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.Unknown && connectError.cause instanceof TypeError) {
        throw new ConnectError(
          `${req.url}${address === undefined ? "" : ` at ${address}`} is unreachable: ${
            causeChain(connectError.cause)
          }`,
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
  const identity = options.identity;
  const endpoint = new URL(options.baseUrl);
  const port = Number(endpoint.port || 443);
  // With an identity, calls name the service, not the address (`https://payment:50054`), and a relay
  // made for this one endpoint carries them there: TLS checks the name, the relay picks the address.
  const tunnel = identity === undefined
    ? undefined
    : openEndpointTunnel({ hostname: endpoint.hostname, port, authority: `${identity}:${port}` });
  const httpClient = Deno.createHttpClient({
    caCerts: [options.tls.ca],
    cert: options.tls.cert,
    key: options.tls.key,
    ...(tunnel === undefined ? {} : { proxy: { url: tunnel.proxyUrl } }),
  });
  const transport = createConnectTransport({
    baseUrl: identity === undefined ? options.baseUrl : identityUrl(endpoint, identity),
    useBinaryFormat: true,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 5_000,
    fetch: (input, init) => fetch(input, { ...init, client: httpClient }),
    interceptors: [
      ...(identity === undefined ? [] : [
        peerIdentityCheck({ url: options.baseUrl, identity, tls: options.tls, warm: true }),
      ]),
      clientTracingInterceptor(),
      connectionFailuresAsUnavailable(identity === undefined ? undefined : options.baseUrl),
      requestIdPropagation(),
      ...(options.interceptors ?? []),
    ],
  });
  return {
    ...transport,
    close: () => {
      httpClient.close();
      tunnel?.close();
    },
  };
}

/** `baseUrl` with the identity in place of the address: `https://10.0.3.7:50054/x` -> `https://payment:50054/x`. */
function identityUrl(endpoint: URL, identity: string): string {
  const url = new URL(endpoint.href);
  url.hostname = identity;
  return url.href.replace(/\/$/, "");
}
