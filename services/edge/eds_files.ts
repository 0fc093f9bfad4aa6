/**
 * Envoy's filesystem EDS: one file per cluster holding a DiscoveryResponse with its ClusterLoadAssignment.
 * Envoy re-reads a watched file only when it is moved into place, so every write goes to a temporary file
 * in the same directory (same filesystem) and is then renamed over the old one, atomically.
 *
 * @module
 */
import type { Endpoint } from "./endpoint_source.ts";

/**
 * The path of a service's EDS file in `dir`.
 *
 * @example
 * ```ts
 * endpointsFilePath("/tmp/eds", "user"); // "/tmp/eds/user.json"
 * ```
 */
export function endpointsFilePath(dir: string, service: string): string {
  return `${dir}/${service}.json`;
}

/**
 * The EDS document for one service's endpoints (an empty list is valid: the cluster has no instance).
 *
 * @example
 * ```ts
 * const doc = edsDocument("user", [{ service: "user", address: "127.0.0.1", port: 50051 }], "1");
 * ```
 */
export function edsDocument(service: string, endpoints: readonly Endpoint[], version: string): unknown {
  const mine = endpoints
    .filter((e) => e.service === service)
    .sort((a, b) => `${a.address}:${a.port}`.localeCompare(`${b.address}:${b.port}`));
  return {
    version_info: version,
    resources: [{
      "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
      cluster_name: service,
      endpoints: mine.length === 0 ? [] : [{
        lb_endpoints: mine.map((e) => ({
          endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
        })),
      }],
    }],
  };
}

/**
 * Writes a file so that readers see the old or the new content, never a part: a temporary file in the
 * same directory, then a rename over the target.
 *
 * @example
 * ```ts ignore
 * await writeFileAtomically("/tmp/eds/user.json", "{}");
 * ```
 */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const name = path.slice(slash + 1);
  // A dot-name Envoy does not watch, unique per write so concurrent writers never share one.
  const temporary = `${dir}/.${name}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Writes the EDS file of every service in `services` for `endpoints` (endpoints of other services are
 * ignored), each atomically.
 *
 * @example
 * ```ts ignore
 * await writeEndpointFiles("/tmp/eds", ["user"], [{ service: "user", address: "127.0.0.1", port: 50051 }], "1");
 * ```
 */
export async function writeEndpointFiles(
  dir: string,
  services: readonly string[],
  endpoints: readonly Endpoint[],
  version: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const service of services) {
    await writeFileAtomically(
      endpointsFilePath(dir, service),
      JSON.stringify(edsDocument(service, endpoints, version), null, 2) + "\n",
    );
  }
}

/**
 * Creates an empty EDS file for each service that has none yet, so that Envoy can start before the
 * bridge has written anything (its clusters then have no endpoints until the bridge runs).
 *
 * @example
 * ```ts ignore
 * await ensureEndpointFiles("/tmp/eds", ["user", "product"]);
 * ```
 */
export async function ensureEndpointFiles(dir: string, services: readonly string[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const service of services) {
    try {
      await Deno.stat(endpointsFilePath(dir, service));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await writeFileAtomically(
        endpointsFilePath(dir, service),
        JSON.stringify(edsDocument(service, [], "0"), null, 2) + "\n",
      );
    }
  }
}
