/**
 * Renders the gateway's Envoy configuration from settings and writes it, with an empty EDS file for
 * every cluster that has none yet (so Envoy can start before the edge bridge has written any).
 *
 * As a program: `deno run -A envoy/render_config.ts --out=.local/envoy/envoy.json` with settings from
 * flags or `SHOP_GATEWAY_*` variables (`SHOP_GATEWAY_PORT=8443`, `SHOP_GATEWAY_STATS_PORT=9901`,
 * `SHOP_GATEWAY_LIMITS_SIGN_IN_RATE=5`, ...); see {@linkcode gatewayConfigSchema}.
 *
 * @module
 */
import { integer, loadConfigOrExit, string, tcpPort } from "@shop/platform/config";
import { tracingEnv } from "@shop/platform/tracing";
import { ensureEndpointFiles } from "../services/edge/eds_files.ts";
import {
  defaultOpenApiPath,
  defaultWebDir,
  gatewayConfig,
  type GatewaySettings,
  upstreamServices,
} from "./gateway_config.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The renderer's keys (env prefix `SHOP_GATEWAY`), with the dev defaults of ARCHITECTURE.md. */
export const gatewayConfigSchema = {
  /** Where to write the configuration (JSON, which Envoy reads by its `.json` extension). */
  out: string({ default: `${root}/.local/envoy/envoy.json`, minLength: 1 }),
  host: string({ default: "127.0.0.1", minLength: 1 }),
  port: tcpPort({ default: 8443 }),
  /** The loopback listener of `/ready` and `/stats/prometheus`. */
  stats: { port: tcpPort({ default: 9901 }) },
  /** Envoy's admin API: a Unix socket, mode 0600. */
  admin: { socket: string({ default: `${root}/.local/envoy/envoy-admin.sock`, minLength: 1 }) },
  tls: { certsDir: string({ default: `${root}/certs/dev`, minLength: 1 }) },
  endpoints: { dir: string({ default: `${root}/.local/envoy/endpoints`, minLength: 1 }) },
  descriptor: string({ default: `${root}/proto/gen/shop.binpb`, minLength: 1 }),
  /** The OpenAPI document served at `GET /openapi.json`. */
  openapi: string({ default: defaultOpenApiPath, minLength: 1 }),
  /** The built web UI (`deno task web:build`), served at `/` and `/admin`; empty: no UI. */
  web: string({ default: defaultWebDir }),
  limits: {
    perAddress: { rate: integer({ default: 200, min: 1 }), burst: integer({ default: 400, min: 1 }) },
    signIn: { rate: integer({ default: 5, min: 1 }), burst: integer({ default: 20, min: 1 }) },
    perUser: { rate: integer({ default: 50, min: 1 }), burst: integer({ default: 100, min: 1 }) },
    maxTrackedClients: integer({ default: 10_000, min: 1 }),
  },
  jwt: {
    issuer: string({ default: "shop-user", minLength: 1 }),
    audience: string({ default: "shop", minLength: 1 }),
    jwksCacheSeconds: integer({ default: 60, min: 1 }),
    maxLifetimeSeconds: integer({ default: 3_600, min: 60 }),
  },
  upstream: {
    timeoutMs: integer({ default: 15_000, min: 100 }),
    healthCheckIntervalMs: integer({ default: 2_000, min: 100 }),
  },
  /**
   * Envoy's OpenTelemetry tracer, from the variables every service reads too: `SHOP_TRACING_ENDPOINT`
   * (the trace store's OTLP/HTTP base URL; empty: no tracing) and `SHOP_TRACING_SAMPLE_RATIO` (0..1).
   */
  tracing: {
    endpoint: string({ default: "", env: ["SHOP_TRACING_ENDPOINT"] }),
    sampleRatio: string({ default: "1", env: ["SHOP_TRACING_SAMPLE_RATIO"] }),
  },
};

/**
 * Writes the rendered configuration to `out` (its directory is created) and makes sure every cluster has
 * an EDS file. Paths in the settings should be absolute: Envoy resolves them from its own working
 * directory.
 *
 * @example
 * ```ts ignore
 * import { defaultGatewaySettings } from "./gateway_config.ts";
 * await writeGatewayConfig(defaultGatewaySettings("/abs/certs/dev", "/abs/eds", "/abs/shop.binpb"), "/abs/envoy.json");
 * ```
 */
export async function writeGatewayConfig(settings: GatewaySettings, out: string): Promise<void> {
  await ensureEndpointFiles(settings.endpointsDir, upstreamServices);
  const dir = out.slice(0, Math.max(out.lastIndexOf("/"), 0));
  if (dir !== "") await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(gatewayConfig(settings), null, 2) + "\n");
}

/**
 * The gateway's settings and output path from flags and `SHOP_GATEWAY_*` variables over the dev defaults
 * (exits with a message naming a bad key). Relative paths are made absolute: Envoy resolves them from
 * its own working directory.
 *
 * @example
 * ```ts ignore
 * const { settings, out } = loadGatewaySettings(Deno.args); // SHOP_GATEWAY_PORT=9443 -> settings.port 9443
 * ```
 */
export function loadGatewaySettings(args: string[]): { settings: GatewaySettings; out: string } {
  const config = loadConfigOrExit(gatewayConfigSchema, { envPrefix: "SHOP_GATEWAY", args });
  const absolute = (path: string) => path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const tracing = tracingEnv({
    SHOP_TRACING_ENDPOINT: config.tracing.endpoint,
    SHOP_TRACING_SAMPLE_RATIO: config.tracing.sampleRatio,
  });
  return {
    settings: {
      host: config.host,
      port: config.port,
      statsPort: config.stats.port,
      adminSocket: absolute(config.admin.socket),
      certsDir: absolute(config.tls.certsDir),
      endpointsDir: absolute(config.endpoints.dir),
      descriptorPath: absolute(config.descriptor),
      openApiPath: absolute(config.openapi),
      ...(config.web === "" ? {} : { webDir: absolute(config.web) }),
      limits: config.limits,
      jwt: config.jwt,
      upstreamTimeoutMs: config.upstream.timeoutMs,
      healthCheckIntervalMs: config.upstream.healthCheckIntervalMs,
      ...(tracing.endpoint === ""
        ? {}
        : { tracing: { otlpHttpUrl: tracing.endpoint, samplePercent: tracing.sampleRatio * 100 } }),
    },
    out: absolute(config.out),
  };
}

if (import.meta.main) {
  const { settings, out } = loadGatewaySettings(Deno.args);
  await writeGatewayConfig(settings, out);
}
