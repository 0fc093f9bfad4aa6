import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { logShippingStats } from "../log/logging.ts";
import { rpcLogInterceptor } from "../log/rpc_log.ts";

/** The metrics of one service process. */
export interface ServiceMetrics {
  /** The registry `/metrics` serves; services add their business counters to it. */
  registry: Registry;
  /**
   * Counts, times and tracks in-flight RPCs (RED), labelled by gRPC service, method and code, and writes
   * one access-log line per RPC ({@linkcode rpcLogInterceptor}).
   */
  rpcInterceptor: Interceptor;
}

/** Latency buckets in seconds, from 1 ms to 10 s: RPCs here range from in-memory reads to a checkout. */
const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function codeName(code: Code): string {
  // "resource_exhausted", the label values grpc-prometheus uses, in their upper-case gRPC spelling.
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * Creates the metrics registry of a service with process metrics and per-RPC RED metrics named as
 * go-grpc-prometheus names them, so existing dashboards and alerts apply: `grpc_server_started_total`,
 * `grpc_server_handled_total{grpc_code}`, `grpc_server_handling_seconds` (histogram) and
 * `grpc_server_in_flight`. It also carries the log shipper's counters, `shop_log_lines_dropped_total
 * {reason}` (`queue_full`: the store was slow or down; `rejected`: the store refused lines) and
 * `shop_log_lines_shipped_total`, and the RPC interceptor writes an access-log line per call.
 *
 * @example
 * ```ts
 * const metrics = createServiceMetrics("product");
 * const text = await metrics.registry.metrics(); // Prometheus text format
 * ```
 */
export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const labelNames = ["grpc_service", "grpc_method", "grpc_type"] as const;
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames,
    registers: [registry],
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by gRPC status code.",
    labelNames: [...labelNames, "grpc_code"],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time to handle an RPC until its response is ready.",
    labelNames: [...labelNames, "grpc_code"],
    buckets: durationBuckets,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "grpc_server_in_flight",
    help: "RPCs being handled right now.",
    labelNames,
    registers: [registry],
  });

  registerLogShippingMetrics(registry);
  const accessLog = rpcLogInterceptor();

  const red: Interceptor = (next) => async (req) => {
    const labels = {
      grpc_service: req.service.typeName,
      grpc_method: req.method.name,
      grpc_type: req.method.methodKind,
    };
    started.inc(labels);
    inFlight.inc(labels);
    const start = performance.now();
    let code = Code[Code.Unknown];
    try {
      const response = await next(req);
      code = "OK";
      return response;
    } catch (error) {
      code = codeName(ConnectError.from(error).code);
      throw error;
    } finally {
      inFlight.dec(labels);
      handled.inc({ ...labels, grpc_code: code });
      seconds.observe({ ...labels, grpc_code: code }, (performance.now() - start) / 1000);
    }
  };
  return { registry, rpcInterceptor: (next) => red(accessLog(next)) };
}

/** The shipper's counters, read when scraped (zero when logs are not shipped). */
function registerLogShippingMetrics(registry: Registry): void {
  new Counter({
    name: "shop_log_lines_dropped_total",
    help: "Log lines that never reached the log store: queue_full (store slow or down), rejected (refused).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      const dropped = logShippingStats()?.dropped ?? { queue_full: 0, rejected: 0 };
      this.reset();
      for (const [reason, count] of Object.entries(dropped)) this.inc({ reason }, count);
    },
  });
  new Counter({
    name: "shop_log_lines_shipped_total",
    help: "Log lines the log store accepted.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(logShippingStats()?.shipped ?? 0);
    },
  });
}
