/**
 * The trace store: Jaeger (v2, built from its Go module by `scripts/setup`), in memory, taking OTLP/HTTP
 * from Envoy and the services and answering its query API (`/api/traces/<id>`, `/api/services`) and the
 * shop's trace viewer (`web/src/traces`, built into `web/traces-dist`, served as Jaeger's UI assets) on
 * another port. Only these two ports are opened, on 127.0.0.1: the all-in-one defaults (OTLP
 * gRPC, Jaeger and Zipkin receivers, sampling, health, metrics) would take fixed ports.
 *
 * @module
 */
import { type ManagedProcess, type ProcessGroup, waitUntil } from "@shop/platform/testing";
import { observabilityTool } from "./servers.ts";

/** A running trace store. */
export interface StartedTraceStore {
  /** The OTLP/HTTP base URL spans are sent to: `http://127.0.0.1:PORT` (`/v1/traces`). */
  readonly otlpHttpUrl: string;
  /** The query API and UI: `http://127.0.0.1:PORT` (16686 in dev). */
  readonly queryUrl: string;
  readonly process: ManagedProcess;
}

/**
 * The built trace viewer (`deno run -A web/build_traces.ts`; `scripts/setup` builds it): Jaeger's UI
 * assets. A Jaeger built from the Go module has only a placeholder page of its own.
 */
export const traceViewerDir: string = new URL("../web/traces-dist", import.meta.url).pathname;

/**
 * Jaeger's configuration: OTLP/HTTP in, memory storage, the query API and the UI (the files of `uiDir`,
 * when given) out, nothing else.
 *
 * @example
 * ```ts
 * jaegerConfig({ otlpHttpPort: 4318, queryPort: 16686, queryGrpcPort: 16685 }).includes("4318"); // true
 * ```
 */
export function jaegerConfig(
  ports: { otlpHttpPort: number; queryPort: number; queryGrpcPort: number; uiDir?: string | undefined },
): string {
  const ui = ports.uiDir === undefined ? "" : `
    ui:
      assets_path: ${JSON.stringify(ports.uiDir)}`;
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore${ui}
    http:
      endpoint: 127.0.0.1:${ports.queryPort}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.otlpHttpPort}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  await response.body?.cancel();
  return response.ok;
}

function isBuilt(dir: string): boolean {
  try {
    return Deno.statSync(`${dir}/index.html`).isFile;
  } catch {
    return false;
  }
}

/**
 * Runs Jaeger with its configuration written into `dir`, until its query API answers. Its UI is the
 * shop's trace viewer when it is built (`traceViewerDir`), else Jaeger's placeholder page.
 *
 * @example
 * ```ts ignore
 * const store = await startTraceStore(group, { dir: ".local/jaeger", otlpHttpPort: 4318, queryPort: 16686, queryGrpcPort: 16685 });
 * ```
 */
export async function startTraceStore(
  group: ProcessGroup,
  options: { dir: string; otlpHttpPort: number; queryPort: number; queryGrpcPort: number; name?: string },
): Promise<StartedTraceStore> {
  await Deno.mkdir(options.dir, { recursive: true });
  const configPath = `${options.dir}/jaeger.yaml`;
  const uiDir = isBuilt(traceViewerDir) ? traceViewerDir : undefined;
  await Deno.writeTextFile(configPath, jaegerConfig({ ...options, uiDir }));
  const process = await group.start({
    name: options.name ?? "jaeger",
    command: observabilityTool("jaeger", "jaeger"),
    args: ["--config", configPath],
  });
  const queryUrl = `http://127.0.0.1:${options.queryPort}`;
  await waitUntil(process, () => answers(`${queryUrl}/api/services`), 60_000);
  return { otlpHttpUrl: `http://127.0.0.1:${options.otlpHttpPort}`, queryUrl, process };
}
