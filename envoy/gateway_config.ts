/**
 * The gateway's Envoy configuration, built as data from settings: one TLS listener (HTTP/1.1 and HTTP/2),
 * REST/JSON transcoding, gRPC-Web, JWT verification, admin-only methods, per-client rate limits, JSON
 * error bodies, and one mTLS HTTP/2 cluster per service with endpoints from EDS files.
 *
 * Every per-method rule (who may call, retries, the sign-in limit) is keyed on the gRPC method path
 * `/<package>.<Service>/<Method>`: the transcoder rewrites a REST request to that path before the JWT,
 * RBAC and rate limit filters run, so REST, native gRPC, gRPC-Web and Connect calls meet the same rule.
 *
 * @module
 */
import type { DescService } from "@bufbuild/protobuf";
import { CartService } from "@shop/proto/cart";
import { OrderService } from "@shop/proto/order";
import { PaymentService } from "@shop/proto/payment";
import { ProductService } from "@shop/proto/product";
import { AuthService, UserService } from "@shop/proto/user";

/** The upstream services behind the gateway, each one cluster. */
export const upstreamServices = ["user", "product", "order", "payment", "cart"] as const;

/** The name of an upstream service (and of its cluster, certificate identity and EDS file). */
export type UpstreamService = (typeof upstreamServices)[number];

/** Who may call a method through the gateway. */
export type Access = "public" | "signed_in" | "admin";

/** A method the gateway routes, with its rules. */
export interface MethodPolicy {
  /** `/shop.user.v1.UserService/ListUsers`. */
  path: string;
  /** The upstream that serves it. */
  upstream: UpstreamService;
  access: Access;
  /** Read-only, so a retry after UNAVAILABLE cannot do anything twice. */
  safe: boolean;
  /** Counted against the per-address sign-in limit (login, register). */
  signIn: boolean;
}

/** The public gRPC services: the transcoder and the routes know these and nothing else. */
export const publicServices: ReadonlyArray<{ service: DescService; upstream: UpstreamService }> = [
  { service: UserService, upstream: "user" },
  { service: AuthService, upstream: "user" },
  { service: ProductService, upstream: "product" },
  { service: OrderService, upstream: "order" },
  { service: PaymentService, upstream: "payment" },
  { service: CartService, upstream: "cart" },
];

/** Methods anyone may call without a token (a valid token is still verified and forwarded). */
const publicMethods = new Set([
  "shop.user.v1.UserService/RegisterUser",
  "shop.user.v1.AuthService/Login",
  "shop.user.v1.AuthService/RefreshToken",
  "shop.product.v1.ProductService/ListProducts",
  "shop.product.v1.ProductService/GetProduct",
]);

/** Methods only a token with `role: admin` may call (the services check again). */
const adminMethods = new Set([
  "shop.user.v1.UserService/ListUsers",
  "shop.user.v1.UserService/SetUserRole",
  "shop.product.v1.ProductService/CreateProduct",
  "shop.product.v1.ProductService/UpdateProduct",
  "shop.product.v1.ProductService/DeleteProduct",
  "shop.order.v1.OrderService/UpdateOrderStatus",
  "shop.payment.v1.PaymentService/RefundPayment",
]);

/** Read-only methods: retried on UNAVAILABLE. Anything else is retried only when it never left Envoy. */
const safeMethods = new Set([
  "shop.user.v1.UserService/GetCurrentUser",
  "shop.user.v1.UserService/ListUsers",
  "shop.product.v1.ProductService/ListProducts",
  "shop.product.v1.ProductService/GetProduct",
  "shop.order.v1.OrderService/GetOrder",
  "shop.order.v1.OrderService/ListOrders",
  "shop.payment.v1.PaymentService/ListPayments",
  "shop.payment.v1.PaymentService/GetPayment",
  "shop.cart.v1.CartService/GetCart",
]);

const signInMethods = new Set(["shop.user.v1.AuthService/Login", "shop.user.v1.UserService/RegisterUser"]);

/**
 * Every method of the public services with its rules. A method added to a proto is routed as
 * `signed_in`, not safe, until someone decides otherwise here.
 *
 * @example
 * ```ts
 * const admin = methodPolicies().filter((m) => m.access === "admin").map((m) => m.path);
 * ```
 */
export function methodPolicies(): MethodPolicy[] {
  return publicServices.flatMap(({ service, upstream }) =>
    service.methods.map((method) => {
      const key = `${service.typeName}/${method.name}`;
      const access: Access = adminMethods.has(key)
        ? "admin"
        : publicMethods.has(key)
        ? "public"
        : "signed_in";
      return {
        path: `/${key}`,
        upstream,
        access,
        safe: safeMethods.has(key),
        signIn: signInMethods.has(key),
      };
    })
  );
}

/** A token bucket: `rate` requests per second on average, up to `burst` at once. */
export interface RateLimit {
  rate: number;
  burst: number;
}

/** Everything the rendered configuration depends on. */
export interface GatewaySettings {
  /** The address the listener binds, `127.0.0.1` in dev. */
  host: string;
  /** The HTTPS port (`SHOP_GATEWAY_PORT`, 8443 in dev). */
  port: number;
  /**
   * A listener on 127.0.0.1 that forwards `GET /ready` and `GET /stats/prometheus` to the admin API and
   * answers 404 to everything else (Prometheus and the harness read it).
   */
  statsPort: number;
  /**
   * The Unix socket of Envoy's admin API (mode 0600: only Envoy's own user may call `/runtime_modify`,
   * `/quitquitquit`, `/clusters`...). At most 107 bytes long.
   */
  adminSocket: string;
  /** Holds `gateway.crt`, `gateway.key` and `ca.crt`. */
  certsDir: string;
  /** Where the EDS files `<service>.json` live (written by services/edge). */
  endpointsDir: string;
  /** The descriptor set for the transcoder (`proto/gen/shop.binpb`). */
  descriptorPath: string;
  /** The OpenAPI document of the REST API, served at `GET /openapi.json` (`proto/gen/openapi.json`). */
  openApiPath: string;
  /**
   * The built web UI (`web/dist`, from `deno task web:build`): the storefront at `GET /`, the admin
   * console at `GET /admin`, and their content-hashed files under `/assets/`. Absent: no UI is served.
   */
  webDir?: string;
  limits: {
    /** Every request, per client address. */
    perAddress: RateLimit;
    /** Login and register, each per client address. */
    signIn: RateLimit;
    /** Requests carrying a verified token, per user (`sub`). */
    perUser: RateLimit;
    /** How many distinct clients (addresses, users) each limit tracks before forgetting the least recent. */
    maxTrackedClients: number;
  };
  jwt: {
    issuer: string;
    audience: string;
    /** How long Envoy keeps the JWKS before fetching it again (a new key is seen within this time). */
    jwksCacheSeconds: number;
    /**
     * How far ahead a token's `exp` may be (Envoy's `max_lifetime` measures from now, not from `iat`);
     * tokens beyond it, and tokens without `exp`, are refused. At least the user service's access token
     * TTL (15 minutes by default).
     */
    maxLifetimeSeconds: number;
  };
  /** The deadline of a call upstream unless the client asks for a shorter one (`grpc-timeout`). */
  upstreamTimeoutMs: number;
  /** The active gRPC health check interval. */
  healthCheckIntervalMs: number;
  /**
   * Traces every request (Envoy's OpenTelemetry tracer, W3C trace context started or continued here)
   * and exports the spans over OTLP/HTTP to the trace store; no tracing when omitted.
   */
  tracing?: GatewayTracing;
}

/** Where and how much the gateway traces. */
export interface GatewayTracing {
  /** The store's OTLP/HTTP base URL, `http://127.0.0.1:4318`. */
  otlpHttpUrl: string;
  /** The share of new traces recorded, in percent (100 in dev); a request with a trace follows it. */
  samplePercent: number;
}

/** The `service.name` of the gateway's spans. */
export const gatewayServiceName = "gateway";

function tracingConfig(tracing: GatewayTracing) {
  const url = new URL(tracing.otlpHttpUrl);
  return {
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: {
        "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
        service_name: gatewayServiceName,
        http_service: {
          http_uri: {
            uri: `${url.origin}/v1/traces`,
            cluster: traceStoreCluster,
            timeout: "2s",
          },
        },
      },
    },
    random_sampling: { value: tracing.samplePercent },
    // The span of the call upstream is a child of the request's, as the services' spans are of it.
    spawn_upstream_span: true,
  };
}

const traceStoreCluster = "trace_store";

/**
 * Envoy's runtime, in layers: fixed values; the services' capacities, which the edge bridge writes beside
 * the endpoint files (`circuit_breakers.<service>.default.max_requests`, the sum of its instances'
 * `server.maxInFlight`: calls beyond it are answered at once with 429 instead of queueing in a busy
 * instance); and the admin socket's changes last, as without a layered runtime.
 *
 * With tracing: Envoy's OpenTelemetry tracer sends its spans once 5 are buffered by default
 * (`min_flush_spans`): an export request per two or three requests under load, each one the trace store
 * must take in. Batches of up to 512 spans, at least once a second, cost the gateway and the store far less.
 */
function layeredRuntime(settings: GatewaySettings) {
  return {
    layers: [
      {
        name: "static",
        static_layer: settings.tracing
          ? { "tracing.opentelemetry.min_flush_spans": 512, "tracing.opentelemetry.flush_interval_ms": 1_000 }
          : {},
      },
      {
        name: capacityLayer,
        rtds_layer: {
          name: capacityLayer,
          rtds_config: {
            resource_api_version: "V3",
            path_config_source: {
              path: runtimeFilePath(settings.endpointsDir),
              watched_directory: { path: settings.endpointsDir },
            },
          },
        },
      },
      { name: "admin", admin_layer: {} },
    ],
  };
}

function traceStoreClusterConfig(tracing: GatewayTracing) {
  const url = new URL(tracing.otlpHttpUrl);
  return {
    name: traceStoreCluster,
    type: "STRICT_DNS",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: traceStoreCluster,
      endpoints: [{
        lb_endpoints: [{
          endpoint: {
            address: { socket_address: { address: url.hostname, port_value: Number(url.port || 80) } },
          },
        }],
      }],
    },
  };
}

/**
 * The committed OpenAPI document (`deno task gen` writes it beside the descriptor set), served at
 * `GET /openapi.json` unless the settings name another file.
 *
 * @example
 * ```ts
 * const document = JSON.parse(Deno.readTextFileSync(defaultOpenApiPath));
 * ```
 */
export const defaultOpenApiPath: string = new URL("../proto/gen/openapi.json", import.meta.url).pathname;

/**
 * Where `deno task web:build` (web/build.ts) puts the storefront and the admin console.
 *
 * @example
 * ```ts
 * const storefront = `${defaultWebDir}/index.html`;
 * ```
 */
export const defaultWebDir: string = new URL("../web/dist", import.meta.url).pathname;

/**
 * The dev defaults of ARCHITECTURE.md section 5 (rate limits) and the user service's JWT settings.
 *
 * @example
 * ```ts
 * const settings = { ...defaultGatewaySettings("certs/dev", ".local/envoy/endpoints", "proto/gen/shop.binpb") };
 * ```
 */
export function defaultGatewaySettings(
  certsDir: string,
  endpointsDir: string,
  descriptorPath: string,
): GatewaySettings {
  return {
    host: "127.0.0.1",
    port: 8443,
    statsPort: 9901,
    adminSocket: `${endpointsDir.replace(/\/[^/]*\/?$/, "") || "."}/envoy-admin.sock`,
    certsDir,
    endpointsDir,
    descriptorPath,
    openApiPath: defaultOpenApiPath,
    webDir: defaultWebDir,
    limits: {
      perAddress: { rate: 200, burst: 400 },
      signIn: { rate: 5, burst: 20 },
      perUser: { rate: 50, burst: 100 },
      maxTrackedClients: 10_000,
    },
    jwt: { issuer: "shop-user", audience: "shop", jwksCacheSeconds: 60, maxLifetimeSeconds: 3_600 },
    upstreamTimeoutMs: 15_000,
    healthCheckIntervalMs: 2_000,
  };
}

/** The header in which Envoy forwards the verified token payload (base64url JSON). */
export const forwardedClaimsHeader = "x-jwt-payload";

/** The numeric gRPC code of each HTTP status Envoy itself answers with, for its JSON error bodies. */
export const localReplyCodes: Readonly<Record<number, { code: number; message?: string }>> = {
  400: { code: 3 },
  401: { code: 16 },
  403: { code: 7 },
  404: { code: 5 },
  405: { code: 12 },
  408: { code: 4 },
  413: { code: 8, message: "request too large" },
  429: { code: 8, message: "too many requests: slow down and retry after the time in retry-after" },
  431: { code: 8, message: "request headers too large" },
  500: { code: 13 },
  501: { code: 12 },
  502: { code: 14 },
  503: { code: 14 },
  504: { code: 4 },
};

const type = {
  hcm:
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  grpcWeb: "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb",
  transcoder: "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
  jwt: "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
  jwtPerRoute: "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig",
  rbac: "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
  rbacPerRoute: "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
  localRateLimit: "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
  filterConfig: "type.googleapis.com/envoy.config.route.v3.FilterConfig",
  downstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  upstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  httpOptions: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  stdoutLog: "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
  earlyHeaderMutation:
    "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation",
  downstreamConnections:
    "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
} as const;

/** HTTP filter names: the keys of per-route configuration. */
const filter = {
  perAddressLimit: "shop.ratelimit.per_address",
  grpcWeb: "envoy.filters.http.grpc_web",
  transcoder: "envoy.filters.http.grpc_json_transcoder",
  signInLimit: "shop.ratelimit.sign_in",
  jwt: "envoy.filters.http.jwt_authn",
  rbac: "envoy.filters.http.rbac",
  perUserLimit: "shop.ratelimit.per_user",
  router: "envoy.filters.http.router",
} as const;

const jwtMetadataNamespace = filter.jwt;
const jwtPayloadKey = "jwt_payload";

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

function fullyEnabled(key: string) {
  return { runtime_key: key, default_value: { numerator: 100, denominator: "HUNDRED" } };
}

function tokenBucket(limit: RateLimit) {
  // Envoy refills continuously at tokens_per_fill / fill_interval, so 1 s intervals give a smooth rate.
  return { max_tokens: limit.burst, tokens_per_fill: limit.rate, fill_interval: "1s" };
}

type RateLimitRule = {
  actions: unknown[];
  entries: Array<{ key: string; value?: string }>;
  limit: RateLimit;
};

/** A local rate limit configuration: each distinct descriptor value (address, user) gets its own bucket. */
function rateLimitConfig(statPrefix: string, maxTracked: number, rules: RateLimitRule[]) {
  return {
    "@type": type.localRateLimit,
    stat_prefix: statPrefix,
    // No token_bucket of its own: a request that matches no descriptor is not limited by this filter.
    filter_enabled: fullyEnabled(`${statPrefix}.enabled`),
    filter_enforced: fullyEnabled(`${statPrefix}.enforced`),
    rate_limited_as_resource_exhausted: true,
    max_dynamic_descriptors: maxTracked,
    response_headers_to_add: [
      { header: { key: "retry-after", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ],
    rate_limits: rules.map((rule) => ({ actions: rule.actions })),
    // An entry without a value is a wildcard: one token bucket per distinct value seen.
    descriptors: rules.map((rule) => ({
      entries: rule.entries.map((entry) => entry.value === undefined ? { key: entry.key } : entry),
      token_bucket: tokenBucket(rule.limit),
    })),
  };
}

/** One local rate limit filter (see {@linkcode rateLimitConfig}). */
function rateLimitFilter(name: string, statPrefix: string, maxTracked: number, rules: RateLimitRule[]) {
  return { name, typed_config: rateLimitConfig(statPrefix, maxTracked, rules) };
}

function upstreamTls(settings: GatewaySettings, sni: string, peerIdentity: string) {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": type.upstreamTls,
      sni,
      common_tls_context: {
        alpn_protocols: ["h2"],
        // The services trust forwarded claims only from the identity `gateway`.
        tls_certificates: [{
          certificate_chain: { filename: `${settings.certsDir}/gateway.crt` },
          private_key: { filename: `${settings.certsDir}/gateway.key` },
        }],
        validation_context: {
          trusted_ca: { filename: `${settings.certsDir}/ca.crt` },
          match_typed_subject_alt_names: [{
            san_type: "URI",
            matcher: { exact: `spiffe://shop.local/${peerIdentity}` },
          }],
        },
      },
    },
  };
}

/**
 * The runtime layer the edge bridge writes into the endpoints directory, which Envoy reads as RTDS the
 * way it reads the EDS files (`services/edge/eds_files.ts` writes it).
 *
 * @example
 * ```ts
 * runtimeFilePath("/tmp/eds"); // "/tmp/eds/capacity.json"
 * ```
 */
export function runtimeFilePath(endpointsDir: string): string {
  return `${endpointsDir}/${capacityLayer}.json`;
}

/** The name of that runtime layer, and of its RTDS resource. */
export const capacityLayer = "capacity";

/** The EDS file of one service, relative to the endpoints directory. */
export function endpointsFile(endpointsDir: string, service: UpstreamService): string {
  return `${endpointsDir}/${service}.json`;
}

function cluster(settings: GatewaySettings, service: UpstreamService) {
  return {
    name: service,
    type: "EDS",
    eds_cluster_config: {
      service_name: service,
      eds_config: {
        resource_api_version: "V3",
        // Envoy picks up a change only when the file is replaced by a rename (services/edge does so).
        path_config_source: {
          path: endpointsFile(settings.endpointsDir, service),
          watched_directory: { path: settings.endpointsDir },
        },
      },
    },
    connect_timeout: "2s",
    lb_policy: "LEAST_REQUEST",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": type.httpOptions,
        explicit_http_config: {
          http2_protocol_options: { connection_keepalive: { interval: "30s", timeout: "5s" } },
        },
      },
    },
    transport_socket: upstreamTls(settings, service, service),
    health_checks: [{
      timeout: "1s",
      interval: seconds(settings.healthCheckIntervalMs),
      interval_jitter: "0.1s",
      unhealthy_threshold: 2,
      healthy_threshold: 1,
      // Checks a new endpoint before it gets traffic, so an instance still starting is not sent calls.
      initial_jitter: "0s",
      grpc_health_check: { service_name: "" },
    }],
    ignore_health_on_host_removal: true,
    // Envoy allows 3 concurrent retries per cluster by default: when an instance dies under load, the
    // calls in flight to it beyond those 3 failed with UNAVAILABLE instead of going to another instance.
    // A budget scales with the traffic instead (a quarter of the active requests, at least 16).
    circuit_breakers: {
      thresholds: [{ retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: 16 } }],
    },
    outlier_detection: {
      consecutive_5xx: 5,
      consecutive_gateway_failure: 3,
      interval: "5s",
      base_ejection_time: "10s",
      max_ejection_percent: 50,
    },
  };
}

function retryPolicy(safe: boolean) {
  return {
    // `unavailable` is the gRPC status (a draining or overloaded instance) and `reset` a connection that
    // died under the call (an instance that was killed): both safe to repeat for reads and idempotent
    // calls only. The others mean the call never reached an application, so even a write may go again:
    // `resource-exhausted` is a service's refusal at its in-flight limit, made before any work started.
    // Every retry spends from the cluster's retry_budget, so retries cannot multiply an overload.
    retry_on: safe
      ? "unavailable,reset,connect-failure,refused-stream,reset-before-request,resource-exhausted"
      : "connect-failure,refused-stream,reset-before-request,resource-exhausted",
    num_retries: 2,
    // Short: a refused call is answered within a few ms, and the client is waiting.
    retry_back_off: { base_interval: "0.005s", max_interval: "0.02s" },
    retry_host_predicate: [{
      name: "envoy.retry_host_predicates.previous_hosts",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
      },
    }],
    host_selection_retry_max_attempts: 3,
  };
}

const transcoderOff = { [filter.transcoder]: { "@type": type.filterConfig, disabled: true } };

function jwtRequirement(name: "required" | "optional" | "disabled") {
  return {
    [filter.jwt]: name === "disabled"
      ? { "@type": type.jwtPerRoute, disabled: true }
      : { "@type": type.jwtPerRoute, requirement_name: name },
  };
}

const adminOnly = {
  [filter.rbac]: {
    "@type": type.rbacPerRoute,
    rbac: {
      rules: {
        action: "ALLOW",
        policies: {
          "admin-role": {
            permissions: [{ any: true }],
            principals: [{
              sourced_metadata: {
                metadata_source: "DYNAMIC",
                metadata_matcher: {
                  filter: jwtMetadataNamespace,
                  path: [{ key: jwtPayloadKey }, { key: "role" }],
                  value: { string_match: { exact: "admin" } },
                },
              },
            }],
          },
        },
      },
    },
  },
};

/**
 * The sign-in limit of one method's route: a bucket per client address. It hangs on the route, not on a
 * match of `:path`, because the route is what decides that a request reaches the method: a query string
 * (`/shop.user.v1.AuthService/Login?x=1`, which a `:path` match would not see as Login) or a REST path the
 * transcoder rewrote meet the same route and so the same bucket. Spellings that no route takes (a trailing
 * slash, another case) get 404 and never reach the service.
 */
function signInLimit(settings: GatewaySettings) {
  const perAddress = rateLimitConfig("sign_in", settings.limits.maxTrackedClients, [{
    actions: [{ remote_address: {} }],
    entries: [{ key: "remote_address" }],
    limit: settings.limits.signIn,
  }]);
  return {
    [filter.signInLimit]: {
      ...perAddress,
      // A route's configuration must have a bucket of its own. Every request has an address, so it is
      // only for a request that somehow had none: such requests share one bucket, which fails closed.
      token_bucket: tokenBucket(settings.limits.signIn),
      always_consume_default_token_bucket: false,
    },
  };
}

function methodRoute(settings: GatewaySettings, method: MethodPolicy) {
  return {
    name: method.path.slice(1),
    match: { path: method.path },
    route: {
      cluster: method.upstream,
      timeout: seconds(settings.upstreamTimeoutMs),
      // A gRPC client's own deadline (grpc-timeout) wins when it is shorter.
      max_stream_duration: { grpc_timeout_header_max: seconds(settings.upstreamTimeoutMs) },
      retry_policy: retryPolicy(method.safe),
    },
    // A call without a deadline of its own (every REST call) tells the service the gateway's, so the
    // service's work and its calls to other services never outlive the gateway's wait.
    request_headers_to_add: [{
      header: { key: "grpc-timeout", value: `${settings.upstreamTimeoutMs}m` },
      append_action: "ADD_IF_ABSENT",
    }],
    typed_per_filter_config: {
      // Requests that arrive on the method path already are gRPC, gRPC-Web or Connect: passed through.
      ...transcoderOff,
      ...jwtRequirement(method.access === "public" ? "optional" : "required"),
      ...(method.access === "admin" ? adminOnly : {}),
      ...(method.signIn ? signInLimit(settings) : {}),
    },
  };
}

/**
 * What a browser may do with the UI's pages: scripts, styles and calls from this origin only, no inline
 * script or style, no framing, no plugins.
 */
export const webContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Sent with every response of the gateway, the API's included. */
const securityHeaders: Record<string, string> = {
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const webContentTypes: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  woff2: "font/woff2",
};

function setHeaders(headers: Record<string, string>) {
  return Object.entries(headers).map(([key, value]) => ({
    header: { key, value },
    append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
  }));
}

function fileRoute(name: string, path: string, filename: string, headers: Record<string, string>) {
  return {
    name,
    match: { path, headers: [{ name: ":method", string_match: { safe_regex: { regex: "GET|HEAD" } } }] },
    direct_response: { status: 200, body: { filename } },
    response_headers_to_add: setHeaders(headers),
    typed_per_filter_config: { ...transcoderOff, ...jwtRequirement("disabled") },
  };
}

/**
 * The storefront (`/`), the admin console (`/admin`) and each built asset (`/assets/<name>-<hash>.<ext>`)
 * as direct responses from the files of `web/dist`, read when Envoy starts: exact paths only, so every
 * other path still gets the JSON 404. Pages are revalidated on every load; assets, named by their
 * content's hash, are cached for a year.
 */
function webRoutes(webDir: string) {
  const pages = [["web-storefront", "/", "index.html"], ["web-admin", "/admin", "admin.html"]] as const;
  for (const [, , file] of pages) {
    try {
      Deno.statSync(`${webDir}/${file}`);
    } catch {
      throw new Error(`the web UI is not built: ${webDir}/${file} is missing (run deno task web:build)`);
    }
  }
  const assets = [...Deno.readDirSync(`${webDir}/assets`)].filter((entry) => entry.isFile)
    .map((entry) => entry.name).sort();
  return [
    ...pages.map(([name, path, file]) =>
      fileRoute(name, path, `${webDir}/${file}`, {
        "content-type": webContentTypes.html ?? "text/html",
        "cache-control": "no-cache",
        "content-security-policy": webContentSecurityPolicy,
      })
    ),
    ...assets.map((asset) =>
      fileRoute(`web-asset-${asset}`, `/assets/${asset}`, `${webDir}/assets/${asset}`, {
        "content-type": webContentTypes[asset.slice(asset.lastIndexOf(".") + 1)] ??
          "application/octet-stream",
        "cache-control": "public, max-age=31536000, immutable",
      })
    ),
    ...imageRoutes(webDir),
  ];
}

/**
 * The demo catalog's pictures (`/images/<sku>-<hash>.svg`, copied into `web/dist/images` by the web
 * build), named by content hash and cached for a year. An SVG opened on its own is a document: it gets a
 * policy that lets it run and load nothing.
 */
function imageRoutes(webDir: string) {
  let images: string[];
  try {
    images = [...Deno.readDirSync(`${webDir}/images`)].filter((entry) => entry.isFile)
      .map((entry) => entry.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return images.map((image) =>
    fileRoute(`image-${image}`, `/images/${image}`, `${webDir}/images/${image}`, {
      "content-type": webContentTypes[image.slice(image.lastIndexOf(".") + 1)] ?? "application/octet-stream",
      "cache-control": "public, max-age=31536000, immutable",
      "content-security-policy": "default-src 'none'; sandbox",
    })
  );
}

function routes(settings: GatewaySettings) {
  return [
    {
      name: "jwks",
      match: {
        path: "/.well-known/jwks.json",
        headers: [{ name: ":method", string_match: { exact: "GET" } }],
      },
      route: { cluster: "user", timeout: "5s", retry_policy: retryPolicy(true) },
      typed_per_filter_config: { ...transcoderOff, ...jwtRequirement("disabled") },
    },
    {
      // Stripe signs the raw body: plain HTTP, no transcoding, no token (the payment service checks the
      // signature).
      name: "stripe-webhook",
      match: { path: "/v1/webhooks/stripe", headers: [{ name: ":method", string_match: { exact: "POST" } }] },
      route: { cluster: "payment", timeout: "10s", retry_policy: retryPolicy(false) },
      typed_per_filter_config: { ...transcoderOff, ...jwtRequirement("disabled") },
    },
    {
      // The OpenAPI document of the REST API (committed, from the protos), read when Envoy starts.
      name: "openapi",
      match: { path: "/openapi.json", headers: [{ name: ":method", string_match: { exact: "GET" } }] },
      direct_response: { status: 200, body: { filename: settings.openApiPath } },
      response_headers_to_add: [{
        header: { key: "content-type", value: "application/json" },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      }],
      typed_per_filter_config: { ...transcoderOff, ...jwtRequirement("disabled") },
    },
    ...(settings.webDir === undefined ? [] : webRoutes(settings.webDir)),
    ...methodPolicies().map((method) => methodRoute(settings, method)),
    {
      // Everything else, the internal services included. A REST request is matched here first and then,
      // rewritten by the transcoder, again against the method routes above.
      name: "not-found",
      match: { prefix: "/" },
      direct_response: { status: 404, body: { inline_string: "no such route" } },
      typed_per_filter_config: jwtRequirement("disabled"),
    },
  ];
}

/**
 * Local replies to native gRPC and gRPC-Web clients keep Envoy's grpc-status and plain grpc-message; a
 * REST request that the transcoder rewrote to gRPC (it has x-envoy-original-path) still gets JSON.
 */
const answeredWithJson = {
  or_filter: {
    filters: [
      { header_filter: { header: { name: "x-envoy-original-path", present_match: true } } },
      {
        header_filter: {
          header: {
            name: "content-type",
            string_match: { prefix: "application/grpc" },
            invert_match: true,
            treat_missing_header_as_empty: true,
          },
        },
      },
    ],
  },
};

const jwtAudienceRefusal = [
  {
    status_code_filter: {
      comparison: { op: "EQ", value: { default_value: 403, runtime_key: "local_reply.jwt_403" } },
    },
  },
  {
    extension_filter: {
      name: "envoy.access_loggers.extension_filters.cel",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
        expression: "response.code_details.startsWith('jwt_authn_access_denied')",
      },
    },
  },
];

/** Envoy refused the call because the cluster's circuit breaker was at its limit (response flag UO). */
const atCapacity = { response_flag_filter: { flags: ["UO"] } };
const retryAfterOneSecond = {
  header: { key: "retry-after", value: "1" },
  append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
};
const atCapacityMessage = "the service is at capacity: retry after the time in retry-after";

function localReplyConfig() {
  return {
    mappers: [
      // jwt_authn answers 403 for a token issued for another audience; to a client that is a token that
      // does not work here, like an expired one: 401 (UNAUTHENTICATED).
      {
        filter: { and_filter: { filters: [...jwtAudienceRefusal, answeredWithJson] } },
        status_code: 401,
        body_format_override: {
          json_format: { code: 16, message: "%LOCAL_REPLY_BODY%" },
          content_type: "application/json",
        },
      },
      { filter: { and_filter: { filters: jwtAudienceRefusal } }, status_code: 401 },
      // A call beyond a cluster's capacity (the circuit breaker's limit on requests in flight, set from
      // the instances' announced capacities) is refused at once, as an instance would refuse it at its
      // own limit: 429 RESOURCE_EXHAUSTED with retry-after to REST clients; gRPC clients get UNAVAILABLE.
      {
        filter: { and_filter: { filters: [atCapacity, answeredWithJson] } },
        status_code: 429,
        headers_to_add: [retryAfterOneSecond],
        body_format_override: {
          json_format: { code: 8, message: atCapacityMessage },
          content_type: "application/json",
        },
      },
      { filter: atCapacity, status_code: 429, headers_to_add: [retryAfterOneSecond] },
      ...jsonErrorMappers(),
    ],
  };
}

function jsonErrorMappers() {
  return Object.entries(localReplyCodes).map(([status, { code, message }]) => ({
    filter: {
      and_filter: {
        filters: [
          {
            status_code_filter: {
              comparison: {
                op: "EQ",
                value: { default_value: Number(status), runtime_key: `local_reply.${status}` },
              },
            },
          },
          answeredWithJson,
        ],
      },
    },
    body_format_override: {
      json_format: { code, message: message ?? "%LOCAL_REPLY_BODY%" },
      content_type: "application/json",
    },
  }));
}

const accessLogFormat = {
  time: "%START_TIME%",
  request_id: "%REQ(X-REQUEST-ID)%",
  client: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
  method: "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
  // Without the query string: whatever a client puts there (a token, by mistake or not) stays out of logs.
  path: "%PATH(NQ:ORIG)%",
  grpc_method: "%PATH(NQ:PATH)%",
  protocol: "%PROTOCOL%",
  status: "%RESPONSE_CODE%",
  grpc_status: "%GRPC_STATUS_NUMBER%",
  flags: "%RESPONSE_FLAGS%",
  details: "%RESPONSE_CODE_DETAILS%",
  route: "%ROUTE_NAME%",
  upstream: "%UPSTREAM_HOST%",
  duration_ms: "%DURATION%",
  upstream_ms: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  bytes_in: "%BYTES_RECEIVED%",
  bytes_out: "%BYTES_SENT%",
  user_agent: "%REQ(USER-AGENT)%",
};

function httpFilters(settings: GatewaySettings) {
  const { limits, jwt } = settings;
  return [
    // 1. Every request, per client address (the socket's, since use_remote_address trusts no header).
    rateLimitFilter(filter.perAddressLimit, "per_address", limits.maxTrackedClients, [{
      actions: [{ remote_address: {} }],
      entries: [{ key: "remote_address" }],
      limit: limits.perAddress,
    }]),
    // 2. gRPC-Web to gRPC (and back).
    { name: filter.grpcWeb, typed_config: { "@type": type.grpcWeb } },
    // 3. REST/JSON to gRPC: after it, the path is the gRPC method path for every kind of client.
    {
      name: filter.transcoder,
      typed_config: {
        "@type": type.transcoder,
        proto_descriptor: settings.descriptorPath,
        services: publicServices.map(({ service }) => service.typeName),
        convert_grpc_status: true,
        print_options: { always_print_primitive_fields: true },
        request_validation_options: { reject_unknown_method: true, reject_unknown_query_parameters: true },
      },
    },
    // 4. Login and register, per client address: the limit is configured on their routes (see
    // signInLimit), so every spelling of the path that reaches them is counted; here it limits nothing.
    rateLimitFilter(filter.signInLimit, "sign_in", limits.maxTrackedClients, []),
    // 5. JWT: the route says whether a token is required, optional or not looked at.
    {
      name: filter.jwt,
      typed_config: {
        "@type": type.jwt,
        providers: {
          shop: {
            issuer: jwt.issuer,
            audiences: [jwt.audience],
            remote_jwks: {
              http_uri: { uri: "https://user/.well-known/jwks.json", cluster: "user", timeout: "2s" },
              cache_duration: `${jwt.jwksCacheSeconds}s`,
              // Fetched at start and refreshed in the background, so no request waits for it.
              async_fetch: { failed_refetch_duration: "1s" },
              retry_policy: { num_retries: 2 },
            },
            // Only the Authorization header: with no `from_*` at all Envoy would also take an
            // `access_token` query parameter, and a token in a URL ends up in logs and histories.
            from_headers: [{ name: "authorization", value_prefix: "Bearer " }],
            // A token that never expires, or that was issued for longer than we ever issue them, is not ours.
            require_expiration: true,
            max_lifetime: `${jwt.maxLifetimeSeconds}s`,
            forward_payload_header: forwardedClaimsHeader,
            payload_in_metadata: jwtPayloadKey,
            clock_skew_seconds: 30,
            // A token verified once is not verified again (ES256 was ~100 µs of a call's ~250 in Envoy,
            // refusals at capacity included) while it is among the last 1000 each worker saw and not
            // expired (Envoy's cache allows 60 s of skew). The cost: a signing key dropped from the JWKS
            // keeps the tokens already seen valid until they expire (access tokens live 5 min); after a
            // key is compromised, restart the gateway as well.
            jwt_cache_config: { jwt_cache_size: 1000 },
          },
        },
        requirement_map: {
          required: { provider_name: "shop" },
          optional: {
            requires_any: { requirements: [{ provider_name: "shop" }, { allow_missing_or_failed: {} }] },
          },
        },
        // A route without a requirement of its own needs a token: new routes are closed by default.
        rules: [{ match: { prefix: "/" }, requires: { provider_name: "shop" } }],
      },
    },
    // 6. Admin-only methods (per route): the verified token's `role` claim must be `admin`.
    { name: filter.rbac, typed_config: { "@type": type.rbac } },
    // 7. Requests with a verified token, per user.
    rateLimitFilter(filter.perUserLimit, "per_user", limits.maxTrackedClients, [{
      actions: [{
        metadata: {
          descriptor_key: "user",
          metadata_key: { key: jwtMetadataNamespace, path: [{ key: jwtPayloadKey }, { key: "sub" }] },
          source: "DYNAMIC",
          skip_if_absent: true,
        },
      }],
      entries: [{ key: "user" }],
      limit: limits.perUser,
    }]),
    { name: filter.router, typed_config: { "@type": type.router } },
  ];
}

/** The cluster of Envoy's own admin socket, which only the stats listener routes to. */
const adminClusterName = "envoy_admin";

/** The only admin paths the stats listener forwards (GET only). */
export const statsPaths = ["/ready", "/stats/prometheus"] as const;

function adminCluster(settings: GatewaySettings) {
  return {
    name: adminClusterName,
    type: "STATIC",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: adminClusterName,
      endpoints: [{
        lb_endpoints: [{ endpoint: { address: { pipe: { path: settings.adminSocket } } } }],
      }],
    },
  };
}

/** 127.0.0.1:statsPort: `GET /ready` and `GET /stats/prometheus` from the admin socket, 404 otherwise. */
function statsListener(settings: GatewaySettings) {
  return {
    name: "stats",
    address: { socket_address: { address: "127.0.0.1", port_value: settings.statsPort } },
    filter_chains: [{
      filters: [{
        name: "envoy.filters.network.http_connection_manager",
        typed_config: {
          "@type": type.hcm,
          stat_prefix: "stats",
          codec_type: "AUTO",
          // Container health checks speak HTTP/1.0 through bash's /dev/tcp.
          http_protocol_options: { accept_http_10: true, default_host_for_http_10: "stats" },
          normalize_path: true,
          merge_slashes: true,
          path_with_escaped_slashes_action: "REJECT_REQUEST",
          route_config: {
            name: "stats",
            virtual_hosts: [{
              name: "stats",
              domains: ["*"],
              routes: [
                ...statsPaths.map((path) => ({
                  match: { path, headers: [{ name: ":method", string_match: { exact: "GET" } }] },
                  route: { cluster: adminClusterName, timeout: "10s" },
                })),
                { match: { prefix: "/" }, direct_response: { status: 404 } },
              ],
            }],
          },
          http_filters: [{ name: filter.router, typed_config: { "@type": type.router } }],
        },
      }],
    }],
  };
}

/**
 * The complete Envoy bootstrap for the gateway, as a JSON-serializable object.
 *
 * @example
 * ```ts
 * const config = gatewayConfig(defaultGatewaySettings("certs/dev", "/tmp/eds", "proto/gen/shop.binpb"));
 * const text = JSON.stringify(config, null, 2);
 * ```
 */
export function gatewayConfig(settings: GatewaySettings): Record<string, unknown> {
  return {
    node: { id: "gateway", cluster: "gateway" },
    admin: {
      // A socket only Envoy's user may open: the admin API changes runtime values and stops Envoy.
      address: { pipe: { path: settings.adminSocket, mode: 0o600 } },
    },
    layered_runtime: layeredRuntime(settings),
    overload_manager: {
      resource_monitors: [{
        name: "envoy.resource_monitors.global_downstream_max_connections",
        typed_config: { "@type": type.downstreamConnections, max_active_downstream_connections: 50_000 },
      }],
    },
    static_resources: {
      listeners: [{
        name: "gateway",
        address: { socket_address: { address: settings.host, port_value: settings.port } },
        per_connection_buffer_limit_bytes: 1_048_576,
        filter_chains: [{
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": type.downstreamTls,
              common_tls_context: {
                alpn_protocols: ["h2", "http/1.1"],
                tls_params: {
                  tls_minimum_protocol_version: "TLSv1_2",
                  tls_maximum_protocol_version: "TLSv1_3",
                  // TLS 1.2 suites with forward secrecy and authenticated encryption only (TLS 1.3 has
                  // nothing else); the security suite's sslyze scan fails on anything more.
                  cipher_suites: [
                    "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
                    "ECDHE-ECDSA-AES256-GCM-SHA384",
                    "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
                    "ECDHE-RSA-AES256-GCM-SHA384",
                  ],
                },
                tls_certificates: [{
                  certificate_chain: { filename: `${settings.certsDir}/gateway.crt` },
                  private_key: { filename: `${settings.certsDir}/gateway.key` },
                }],
              },
            },
          },
          filters: [{
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": type.hcm,
              stat_prefix: "gateway",
              codec_type: "AUTO",
              // The client address is the socket's; a client-sent x-forwarded-for is not believed.
              use_remote_address: true,
              xff_num_trusted_hops: 0,
              generate_request_id: true,
              preserve_external_request_id: true,
              always_set_request_id_in_response: true,
              normalize_path: true,
              merge_slashes: true,
              path_with_escaped_slashes_action: "REJECT_REQUEST",
              server_name: "shop-gateway",
              common_http_protocol_options: {
                idle_timeout: "300s",
                headers_with_underscores_action: "REJECT_REQUEST",
              },
              http2_protocol_options: { max_concurrent_streams: 100 },
              stream_idle_timeout: "60s",
              request_headers_timeout: "10s",
              // The verified claims are the only x-jwt-payload a service may see: a client's copy goes
              // before any filter runs (a route-level request_headers_to_remove would run after jwt_authn
              // and drop the verified copy too).
              early_header_mutation_extensions: [{
                name: "envoy.http.early_header_mutation.header_mutation",
                typed_config: {
                  "@type": type.earlyHeaderMutation,
                  mutations: [{ remove: forwardedClaimsHeader }],
                },
              }],
              access_log: [{
                name: "envoy.access_loggers.stdout",
                typed_config: { "@type": type.stdoutLog, log_format: { json_format: accessLogFormat } },
              }],
              local_reply_config: localReplyConfig(),
              route_config: {
                name: "shop",
                // The OpenAPI document is served as a direct response (the default allows 4 KiB).
                max_direct_response_body_size_bytes: 4 * 1024 * 1024,
                virtual_hosts: [{
                  name: "shop",
                  domains: ["*"],
                  routes: routes(settings),
                  response_headers_to_add: setHeaders(securityHeaders),
                }],
              },
              http_filters: httpFilters(settings),
              ...(settings.tracing ? { tracing: tracingConfig(settings.tracing) } : {}),
            },
          }],
        }],
      }, statsListener(settings)],
      clusters: [
        ...upstreamServices.map((service) => cluster(settings, service)),
        adminCluster(settings),
        ...(settings.tracing ? [traceStoreClusterConfig(settings.tracing)] : []),
      ],
    },
  };
}
