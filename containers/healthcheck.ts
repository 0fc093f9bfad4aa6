// deno-lint-ignore-file no-console -- a probe: its one line of output is what `docker inspect` shows
/**
 * The containers' HEALTHCHECK (see the Dockerfile): exits 0 when the program in this container is
 * ready, 1 otherwise, with one line saying why.
 *
 * - `healthcheck.ts grpc <service> <defaultPort>`: a `grpc.health.v1.Health/Check` of the whole server
 *   (service `""`) over mTLS with the container's own certificate, as the service's own config names it
 *   (`SHOP_<SERVICE>_SERVER_PORT`, else `defaultPort`; `SHOP_<SERVICE>_TLS_CERTS_DIR`); ready means
 *   SERVING. It dials 127.0.0.1, which every certificate of `scripts/certs` names.
 * - `healthcheck.ts http <url>`: ready when a GET of the URL answers 2xx (the Stripe simulator).
 * - `healthcheck.ts eds <service>...`: ready when the edge bridge has written the EDS file of every
 *   service into `SHOP_EDGE_ENDPOINTS_DIR` (the renderer's placeholders carry version `"0"`).
 *
 * @example
 * ```sh
 * deno run --allow-env --allow-read --allow-net=127.0.0.1 containers/healthcheck.ts grpc user 50051
 * ```
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { createServiceTransport } from "@shop/platform/client";
import { readTlsFiles } from "@shop/platform/tls";
import { Health, HealthCheckResponse_ServingStatus } from "@shop/proto/grpc";

/** The longest one probe waits; Docker's own `--timeout` is longer, so a slow answer reads as a failure here. */
const probeTimeoutMs = 3_000;

/**
 * Runs one probe and returns the line to print and whether the program is ready.
 *
 * @example
 * ```ts ignore
 * const { ok, message } = await probe(["grpc", "user", "50051"], Deno.env.toObject());
 * ```
 */
export async function probe(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<{ ok: boolean; message: string }> {
  const [mode, ...rest] = args;
  if (mode === "grpc") return await probeGrpc(rest, env);
  if (mode === "http") return await probeHttp(rest);
  if (mode === "eds") return await probeEds(rest, env);
  return {
    ok: false,
    message: `usage: healthcheck.ts grpc <service> <defaultPort> | http <url> | eds <service>...`,
  };
}

async function probeGrpc(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<{ ok: boolean; message: string }> {
  const [service, defaultPort] = args;
  if (service === undefined || !/^[a-z]+$/.test(service) || defaultPort === undefined) {
    return { ok: false, message: "usage: healthcheck.ts grpc <service> <defaultPort>" };
  }
  const prefix = `SHOP_${service.toUpperCase()}`;
  const port = env[`${prefix}_SERVER_PORT`] ?? defaultPort;
  const certsDir = env[`${prefix}_TLS_CERTS_DIR`];
  if (certsDir === undefined) return { ok: false, message: `${prefix}_TLS_CERTS_DIR is not set` };
  const transport = createServiceTransport({
    baseUrl: `https://127.0.0.1:${port}`,
    tls: await readTlsFiles(certsDir, service),
    defaultTimeoutMs: probeTimeoutMs,
  });
  try {
    const { status } = await createClient(Health, transport).check({ service: "" });
    const name = HealthCheckResponse_ServingStatus[status] ?? String(status);
    return { ok: status === HealthCheckResponse_ServingStatus.SERVING, message: `${service}: ${name}` };
  } catch (error) {
    return { ok: false, message: `${service}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    transport.close();
  }
}

async function probeHttp(args: readonly string[]): Promise<{ ok: boolean; message: string }> {
  const [url] = args;
  if (url === undefined) return { ok: false, message: "usage: healthcheck.ts http <url>" };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(probeTimeoutMs) });
    await response.body?.cancel();
    return { ok: response.ok, message: `${url}: HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, message: `${url}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

async function probeEds(
  services: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<{ ok: boolean; message: string }> {
  const dir = env["SHOP_EDGE_ENDPOINTS_DIR"];
  if (dir === undefined || services.length === 0) {
    return { ok: false, message: "usage: SHOP_EDGE_ENDPOINTS_DIR=<dir> healthcheck.ts eds <service>..." };
  }
  for (const service of services) {
    try {
      const document = JSON.parse(await Deno.readTextFile(`${dir}/${service}.json`)) as {
        version_info?: unknown;
      };
      if (typeof document.version_info !== "string" || document.version_info === "0") {
        return { ok: false, message: `${service}.json has not been written by the bridge yet` };
      }
    } catch (error) {
      return {
        ok: false,
        message: `${service}.json: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }
  return { ok: true, message: `endpoints of ${services.join(", ")} written` };
}

if (import.meta.main) {
  const { ok, message } = await probe(Deno.args, Deno.env.toObject());
  console.log(message);
  Deno.exit(ok ? 0 : 1);
}
