/**
 * The shop's services and the fixed ports of `deno task dev`.
 *
 * The list of services is the gateway's list of upstream clusters (`upstreamServices` in
 * envoy/gateway_config.ts, which the edge bridge and the Envoy configuration read too): naming a new
 * service there makes the type checker ask for its entry in the stack's wiring (`serviceSettings` in
 * `wiring.ts`) and its dev port here.
 *
 * @module
 */
import { type UpstreamService, upstreamServices } from "../envoy/gateway_config.ts";

/**
 * The shop's services, in the order the gateway lists its clusters.
 *
 * @example
 * ```ts ignore
 * for (const service of stackServices) console.log(stack.instances(service).map((i) => i.url));
 * ```
 */
export const stackServices: readonly StackService[] = upstreamServices;

/** One of {@linkcode stackServices}. */
export type StackService = UpstreamService;

/**
 * The fixed ports of `deno task dev`, all on 127.0.0.1. The gateway's own (8443 and its stats listener 9901) are
 * read from `SHOP_GATEWAY_PORT` and `SHOP_GATEWAY_STATS_PORT` when set.
 *
 * @example
 * ```ts ignore
 * `https://127.0.0.1:${devPorts.services.product}`; // the product service in dev
 * ```
 */
export const devPorts = {
  postgres: 5432,
  etcd: 2379,
  etcdPeer: 2380,
  mongo: 27017,
  stripeMock: 12111,
  stripeSimulator: 12112,
  logs: 9428,
  alertmanager: 9093,
  prometheus: 9090,
  /** The trace store (Jaeger): OTLP/HTTP in, the query API and UI, the query gRPC API. */
  traceOtlpHttp: 4318,
  traceQuery: 16686,
  traceQueryGrpc: 16685,
  /** Mailpit: SMTP in, and its UI and API (ARCHITECTURE.md section 7). */
  mailpitSmtp: 1025,
  mailpitHttp: 8025,
  /** The notification service: internal only, so not one of the gateway's upstreams. */
  notification: 50055,
  redis: 6379,
  services: { user: 50051, product: 50052, order: 50053, payment: 50054, cart: 50056 } satisfies Record<
    StackService,
    number
  >,
} as const;

/**
 * The prefix of a service's environment variables: `SHOP_USER` for `user`.
 *
 * @example
 * ```ts
 * envPrefix("payment"); // "SHOP_PAYMENT"
 * ```
 */
export function envPrefix(service: StackService): string {
  return `SHOP_${service.toUpperCase()}`;
}
