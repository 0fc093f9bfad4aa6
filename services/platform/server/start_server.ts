import * as http2 from "node:http2";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { DescService } from "@bufbuild/protobuf";
import { type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Caller, callerKey, peerIdentity } from "../auth/caller.ts";
import { allowedPeersInterceptor, gatewayClaimsInterceptor } from "../auth/interceptors.ts";
import { createHealthState, type HealthState, OVERALL, registerHealth } from "../grpc/health.ts";
import { registerReflection } from "../grpc/reflection.ts";
import { serviceLogger } from "../log/logging.ts";
import { createServiceMetrics, type ServiceMetrics } from "../metrics/service_metrics.ts";
import type { TlsFiles } from "../tls/tls_files.ts";
import { serverTracingInterceptor } from "../tracing/interceptors.ts";
import { contextFromHeaders, inSpan, SpanKind } from "../tracing/tracing.ts";
import {
  drainInterceptor,
  errorInterceptor,
  requestIdHeader,
  requestIdInterceptor,
  validationInterceptor,
} from "./interceptors.ts";
import { deferSessionDestroy } from "./session_guard.ts";
import { reuseAbortError } from "./abort_reason.ts";
import { defaultMaxInFlight, shedBeyond } from "./admission.ts";

/** A plain HTTP route served beside gRPC on the same port (the JWKS document, the Stripe webhook). */
export interface HttpRoute {
  method: "GET" | "POST";
  /** The exact path, for example `/.well-known/jwks.json`. */
  path: string;
  /** Answers the request; the body has been read (within the size limit) before it is called. */
  handle(request: Request, caller: Caller): Response | Promise<Response>;
}

/** How to serve: mTLS with the service's own certificate, or plaintext h2c for tests that ask for it. */
export type Transport = { tls: TlsFiles } | { plaintext: true };

/** Everything {@linkcode startServer} needs. */
export interface ServerOptions {
  /** The service's name, for logs and metrics: `user`, `product`, ... */
  service: string;
  /** Registers the service's Connect handlers. */
  routes: (router: ConnectRouter) => void;
  /** The port to listen on; 0 picks a free one. */
  port: number;
  /** The address to listen on; 127.0.0.1 unless set. */
  host?: string;
  transport: Transport;
  /** gRPC services only certain peers may call: `{ "shop.product.v1.InventoryService": ["order"] }`. */
  allowedPeers?: Readonly<Record<string, readonly string[]>>;
  /** The service's own interceptors, run after the kit's (identity, validation) and before handlers. */
  interceptors?: Interceptor[];
  /** Plain HTTP routes served on the same port. */
  httpRoutes?: HttpRoute[];
  /** The largest request message or body accepted, in bytes (4 MiB unless set). */
  maxRequestBytes?: number;
  /** How long in-flight calls may take to finish during shutdown before they are cut (10 s unless set). */
  shutdownGraceMs?: number;
  /**
   * How long to keep serving after leaving the registry and turning health NOT_SERVING, so that callers
   * and the gateway notice before connections close (0 unless set).
   */
  preStopDelayMs?: number;
  /** The metrics registry to serve at `/metrics` and count RPCs in; a new one unless given. */
  metrics?: ServiceMetrics;
  /**
   * The most calls of the service's own RPCs handled at once (32 unless set); beyond it a call is
   * refused at once with RESOURCE_EXHAUSTED and a RetryInfo, before its request is read (admission.ts).
   * Health checks, reflection, `/metrics` and the plain HTTP routes are never refused.
   */
  maxInFlight?: number;
}

/** When a shutdown hook runs: before the server stops accepting work, or after it has drained. */
export type ShutdownPhase = "deregister" | "close";

/** A server that is serving. */
export interface RunningServer {
  /** The port it listens on. */
  readonly port: number;
  /** `https://127.0.0.1:PORT` (or `http://` in plaintext mode). */
  readonly url: string;
  /** Its gRPC health, SERVING once started. */
  readonly health: HealthState;
  /** Its metrics registry. */
  readonly metrics: ServiceMetrics;
  /**
   * How many of its own RPCs it handles at once before it refuses more (`server.maxInFlight`): its
   * capacity, which it announces in the registry so that the gateway sheds beyond it before calling.
   */
  readonly maxInFlight: number;
  /**
   * Adds work to shutdown: `deregister` hooks (leave the registry) run first, while the server still
   * serves; `close` hooks (close pools) run after in-flight calls have drained.
   */
  onShutdown(phase: ShutdownPhase, hook: () => unknown): void;
  /** Shuts down gracefully; calling it again returns the same promise. */
  shutdown(): Promise<void>;
}

const defaultMaxRequestBytes = 4 * 1024 * 1024;

function servicesOf(routes: (router: ConnectRouter) => void): DescService[] {
  // A throwaway router tells which services `routes` registers, for reflection.
  const services = new Map<string, DescService>();
  const probe = {
    service(service: DescService) {
      services.set(service.typeName, service);
      return probe;
    },
    rpc() {
      return probe;
    },
    handlers: [],
  };
  routes(probe as unknown as ConnectRouter);
  return [...services.values()];
}

async function readBody(
  req: http2.Http2ServerRequest,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | "too large"> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Uint8Array).byteLength;
    if (size > limit) return "too large";
    chunks.push(chunk as Uint8Array);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function sendJson(res: http2.Http2ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** The peer identity of each connection, read once: a certificate cannot change within a connection. */
const peersOfConnections = new WeakMap<object, string>();

/**
 * The identity of the peer that sent `req`, from its certificate. Reading a certificate costs more than
 * the rest of a health check, so it is read once per connection (an HTTP/2 session, or the socket of an
 * HTTP/1.1 connection), not per call.
 */
function peerOf(req: http2.Http2ServerRequest | IncomingMessage): string | undefined {
  const connection: object = ("stream" in req ? req.stream?.session : undefined) ?? req.socket;
  const known = peersOfConnections.get(connection);
  if (known !== undefined) return known;
  // No identity (a closing connection's certificate reads as none) is not remembered: read it again.
  const peer = peerIdentity(req.socket as TLSSocket);
  if (peer !== undefined) peersOfConnections.set(connection, peer);
  return peer;
}

/** Resolves true when `promise` settles within `ms`, false when the time runs out first. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts a service: its Connect routes on `node:http2` (gRPC, gRPC-Web and Connect, HTTP/2 and HTTP/1.1),
 * over mTLS that refuses clients without a certificate from the shop's CA, with gRPC health, server
 * reflection, `/metrics`, request ids, RED metrics, protovalidate checks, the kit's error mapping, caller
 * identity, a request size limit, and graceful shutdown (see {@linkcode RunningServer.shutdown}).
 *
 * @example
 * ```ts
 * import { ProductService } from "@shop/proto/product";
 * import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";
 * const tls = await readTlsFiles(await ensureDevCertificates(), "product");
 * const server = await startServer({
 *   service: "product",
 *   port: 50052,
 *   transport: { tls },
 *   routes: (router) => router.service(ProductService, {}),
 * });
 * stopOnSignals(server);
 * ```
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  // Connect aborts a controller at the end of every call: without a new stack trace each time.
  reuseAbortError();
  const log = serviceLogger("server");
  const metrics = options.metrics ?? createServiceMetrics(options.service);
  const maxRequestBytes = options.maxRequestBytes ?? defaultMaxRequestBytes;
  const health = createHealthState({ overall: "NOT_SERVING" });
  const services = servicesOf(options.routes);
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const handler = connectNodeAdapter({
    routes(router) {
      options.routes(router);
      registerHealth(router, health);
      registerReflection(router);
    },
    readMaxBytes: maxRequestBytes,
    // A field the contract does not have is a client bug (or a probe for mass assignment): refuse it.
    jsonOptions: { ignoreUnknownFields: false },
    interceptors: [
      serverTracingInterceptor(),
      requestIdInterceptor(),
      metrics.rpcInterceptor,
      errorInterceptor(),
      drainInterceptor(() => draining),
      gatewayClaimsInterceptor(),
      allowedPeersInterceptor(options.allowedPeers ?? {}),
      validationInterceptor(),
      ...(options.interceptors ?? []),
    ],
    contextValues: (req) => createContextValues().set(callerKey, { peer: peerOf(req), user: undefined }),
    fallback: async (req, res) => {
      const http = req as http2.Http2ServerRequest;
      const response = res as http2.Http2ServerResponse;
      const path = (http.url ?? "/").split("?")[0];
      if (http.method === "GET" && path === "/metrics") {
        response.writeHead(200, { "content-type": metrics.registry.contentType });
        response.end(await metrics.registry.metrics());
        return;
      }
      const route = options.httpRoutes?.find((r) => r.method === http.method && r.path === path);
      if (!route) return sendJson(response, 404, { code: 5, message: `no route for ${http.method} ${path}` });
      const body = http.method === "GET" ? new Uint8Array(0) : await readBody(http, maxRequestBytes);
      if (body === "too large") {
        return sendJson(response, 413, { code: 8, message: "request body too large" });
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(http.headers)) {
        if (!name.startsWith(":") && value !== undefined) headers.set(name, String(value));
      }
      const request = new Request(`https://${headers.get("host") ?? "localhost"}${http.url}`, {
        method: http.method,
        headers,
        ...(http.method === "GET" ? {} : { body }),
      });
      const peer = peerOf(http);
      const reply = await inSpan(`${http.method} ${path}`, {
        kind: SpanKind.SERVER,
        parent: contextFromHeaders(headers),
        attributes: { "http.request.method": http.method, "url.path": path },
      }, async (span) => {
        const reply = await route.handle(request, { peer, user: undefined });
        span.setAttribute("http.response.status_code", reply.status);
        return reply;
      });
      const replyHeaders: Record<string, string> = {};
      reply.headers.forEach((value, name) => replyHeaders[name] = value);
      response.writeHead(reply.status, replyHeaders);
      response.end(new Uint8Array(await reply.arrayBuffer()));
    },
  });

  const refusedOverLimit = shedBeyond(options.maxInFlight, { service: options.service, services, metrics });

  const http1Sockets = new Set<Socket>();
  const onRequest = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (refusedOverLimit(req, res)) return;
    inFlight++;
    res.on("close", () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    if (req.httpVersionMajor === 1) {
      const socket = req.socket as Socket;
      if (!http1Sockets.has(socket)) {
        http1Sockets.add(socket);
        socket.once("close", () => http1Sockets.delete(socket));
      }
      if (draining) res.setHeader("connection", "close");
    }
    handler(req, res);
  };

  const server = "tls" in options.transport
    ? http2.createSecureServer({
      key: options.transport.tls.key,
      cert: options.transport.tls.cert,
      ca: options.transport.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      allowHTTP1: true,
      minVersion: "TLSv1.2",
    }, onRequest)
    : http2.createServer({}, onRequest);

  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Socket>();
  server.on("session", (session: http2.ServerHttp2Session) => {
    // A peer's GOAWAY with an error code must not crash the process (session_guard.ts).
    deferSessionDestroy(session);
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  for (const service of services) health.setStatus(service.typeName, "SERVING");
  health.setStatus(OVERALL, "SERVING");

  const hooks: Record<ShutdownPhase, Array<() => unknown>> = { deregister: [], close: [] };
  let stopping: Promise<void> | undefined;

  async function runHooks(phase: ShutdownPhase): Promise<void> {
    for (const hook of hooks[phase]) {
      try {
        await hook();
      } catch (error) {
        log.error("Shutdown hook ({phase}) failed: {error}", { phase, error });
      }
    }
  }

  async function stop(): Promise<void> {
    const graceMs = options.shutdownGraceMs ?? 10_000;
    log.info("Shutting down: leaving the registry, then draining {inFlight} calls", { inFlight });
    health.shutdown();
    await runHooks("deregister");
    if (options.preStopDelayMs) await new Promise((resolve) => setTimeout(resolve, options.preStopDelayMs));
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.close();
    const deadline = Date.now() + graceMs;
    if (inFlight > 0 && !await within(new Promise<void>((resolve) => drained = resolve), graceMs)) {
      log.warn("{inFlight} calls still running after {graceMs} ms; cutting them off", { inFlight, graceMs });
    }
    // The last responses may still be on their way out: let connections close on their own (HTTP/2
    // sessions do once their streams end; idle HTTP/1.1 keep-alive sockets are ended gracefully), and
    // destroy only what is left when the grace period is over.
    for (const socket of http1Sockets) socket.end();
    const settled = Promise.all(
      [...sockets].map((socket) => new Promise((resolve) => socket.once("close", resolve))),
    );
    await within(settled, Math.max(100, Math.min(2_000, deadline - Date.now())));
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    await closed;
    await runHooks("close");
    log.info("Stopped");
  }

  const scheme = "tls" in options.transport ? "https" : "http";
  log.info("Serving {service} on {url}", { service: options.service, url: `${scheme}://${host}:${port}` });
  return {
    port,
    url: `${scheme}://${host}:${port}`,
    health,
    metrics,
    maxInFlight: options.maxInFlight ?? defaultMaxInFlight,
    onShutdown(phase, hook) {
      hooks[phase].push(hook);
    },
    shutdown() {
      stopping ??= stop();
      return stopping;
    },
  };
}

/**
 * Shuts the server (or any process with a `shutdown()`) down gracefully on SIGTERM or SIGINT, then ends
 * the process with status 0 (1 if the shutdown itself failed).
 *
 * @example
 * ```ts
 * declare const server: RunningServer;
 * stopOnSignals(server);
 * ```
 */
export function stopOnSignals(server: Pick<RunningServer, "shutdown">): void {
  const stop = () => {
    server.shutdown().then(() => Deno.exit(0), (error) => {
      serviceLogger("server").error("Shutdown failed: {error}", { error });
      Deno.exit(1);
    });
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.env.get(stopOnStdinEofVariable) === "1") {
    // A process started by a test runner holds its stdin pipe: when the runner dies, however it dies, the
    // pipe closes and the service shuts down instead of living on as an orphan.
    (async () => {
      for await (const _ of Deno.stdin.readable) {
        // Nothing is read from it; only its end matters.
      }
      stop();
    })();
  }
}

/** Set to `1` by test harnesses: the process shuts down when its stdin closes (see stopOnSignals). */
export const stopOnStdinEofVariable = "SHOP_STOP_ON_STDIN_EOF";

export { requestIdHeader };
