/**
 * Envoy's filesystem EDS: one file per cluster holding a DiscoveryResponse with its ClusterLoadAssignment.
 * Envoy re-reads a watched file only when it is moved into place, so every write goes to a temporary file
 * in the same directory (same filesystem) and is then renamed over the old one, atomically.
 *
 * @module
 */
import { capacityLayer, runtimeFilePath } from "../../envoy/gateway_config.ts";
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
 * The RTDS document that sets each service's cluster limit on requests in flight
 * (`circuit_breakers.<service>.default.max_requests`) to the sum of its instances' announced capacities,
 * so that Envoy answers the calls beyond it at once, without sending them to an instance that would only
 * queue them behind its own work and then refuse. A service with no instance, or one whose capacity an
 * instance did not announce, keeps the cluster's configured limit.
 *
 * @example
 * ```ts
 * const doc = runtimeDocument(["order"], [{ service: "order", address: "10.0.0.5", port: 50053, capacity: 32 }], "1");
 * // layer: { "circuit_breakers.order.default.max_requests": 32 }
 * ```
 */
export function runtimeDocument(
  services: readonly string[],
  endpoints: readonly Endpoint[],
  version: string,
): unknown {
  const layer: Record<string, number> = {};
  for (const service of services) {
    const mine = endpoints.filter((e) => e.service === service);
    if (mine.length === 0 || mine.some((e) => e.capacity === undefined)) continue;
    layer[`circuit_breakers.${service}.default.max_requests`] = mine.reduce(
      (sum, e) => sum + (e.capacity ?? 0),
      0,
    );
  }
  return {
    version_info: version,
    resources: [{
      "@type": "type.googleapis.com/envoy.service.runtime.v3.Runtime",
      name: capacityLayer,
      layer,
    }],
  };
}

/** A dot-name Envoy does not watch, beside `path`, unique per call so concurrent writers never share one. */
function temporaryBeside(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${slash >= 0 ? path.slice(0, slash) : "."}/.${path.slice(slash + 1)}.${crypto.randomUUID()}.tmp`;
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
  const temporary = temporaryBeside(path);
  try {
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Every file Envoy reads from `dir`, with its text for `endpoints`: the capacity layer first (a new
 * instance's capacity is in place before it gets its first call), then each service's EDS file
 * (endpoints of other services are ignored).
 */
function endpointFiles(
  dir: string,
  services: readonly string[],
  endpoints: readonly Endpoint[],
  version: string,
): Array<{ path: string; text: string }> {
  const text = (document: unknown) => JSON.stringify(document, null, 2) + "\n";
  return [
    { path: runtimeFilePath(dir), text: text(runtimeDocument(services, endpoints, version)) },
    ...services.map((service) => ({
      path: endpointsFilePath(dir, service),
      text: text(edsDocument(service, endpoints, version)),
    })),
  ];
}

/**
 * Writes the EDS file of every service in `services` for `endpoints`, and the capacity layer, each
 * atomically.
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
  for (const { path, text } of endpointFiles(dir, services, endpoints, version)) {
    await writeFileAtomically(path, text);
  }
}

/**
 * Creates an empty EDS file for each service that has none yet, and the capacity layer, so that Envoy can
 * start before the bridge has written anything (its clusters then have no endpoints until the bridge
 * runs).
 *
 * @example
 * ```ts ignore
 * await ensureEndpointFiles("/tmp/eds", ["user", "product"]);
 * ```
 */
export async function ensureEndpointFiles(dir: string, services: readonly string[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const { path, text } of endpointFiles(dir, services, [], "0")) await createFileIfMissing(path, text);
}

/**
 * Whether every file Envoy reads for `services` is in `dir` (the bridge writes them one after the other).
 *
 * @example
 * ```ts ignore
 * await endpointFilesPresent("/tmp/eds", ["user", "product"]); // true once the bridge wrote them all
 * ```
 */
export async function endpointFilesPresent(dir: string, services: readonly string[]): Promise<boolean> {
  const present = new Set<string>();
  for await (const entry of Deno.readDir(dir)) present.add(`${dir}/${entry.name}`);
  return endpointFiles(dir, services, [], "0").every(({ path }) => present.has(path));
}

/**
 * Puts a complete file in place only if there is none: a temporary file hard-linked to the name, which
 * fails when the name exists. A check and then a write would race with the bridge: its file, written
 * between the two, was replaced by the empty one, and the cluster stayed empty (seen in CI).
 */
async function createFileIfMissing(path: string, text: string): Promise<void> {
  const temporary = temporaryBeside(path);
  await Deno.writeTextFile(temporary, text);
  try {
    await Deno.link(temporary, path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
}
