/**
 * The registry's key layout and the record every instance writes: the one contract between
 * registration, the resolver, the gateway bridge and Prometheus' targets.
 *
 * @module
 */

/**
 * Where instances register unless told otherwise.
 *
 * @example
 * ```ts
 * instanceKey(defaultPrefix, "product", "product-1"); // "/shop/services/product/product-1"
 * ```
 */
export const defaultPrefix = "/shop/services";

/** What an instance publishes about itself, as JSON, at `<prefix>/<service>/<instanceId>`. */
export interface InstanceRecord {
  /** The service's name: `product`, `order`, ... */
  service: string;
  /** Unique among the service's instances, and for the life of one process only. */
  instanceId: string;
  /** The host name or IP address callers dial. */
  address: string;
  /** The port callers dial. */
  port: number;
  /** `https://address:port` (or `http://` for a plaintext test server). */
  url: string;
  /** The RPC protocols served on that port: gRPC, gRPC-Web and Connect. */
  protocols: string[];
  /** Whether the port speaks TLS. */
  tls: boolean;
  /** Whether callers must present a client certificate signed by the shop's CA. */
  mtls: boolean;
  /** The path of the Prometheus metrics on the same port. */
  metricsPath: string;
  /** The gRPC health service to ask for the instance's status. */
  healthService: string;
  /** The service's version. */
  version: string;
  /** When the process started serving, ISO 8601. */
  startTime: string;
  /** The machine's host name and the process id, for people reading the registry. */
  hostname: string;
  pid: number;
  /** Anything else a consumer may need (zone, weight), as strings. */
  metadata: Record<string, string>;
}

/** The names a service or instance id may have: one key segment, no slash. */
const segment = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a service name or instance id, which each become one segment of a key.
 *
 * @example
 * ```ts
 * assertKeySegment("service", "product");
 * ```
 */
export function assertKeySegment(what: string, value: string): void {
  if (!segment.test(value)) {
    throw new Error(`discovery: ${what} ${JSON.stringify(value)} must match ${segment.source}`);
  }
}

/**
 * Normalizes a prefix: a leading slash, no trailing slash.
 *
 * @example
 * ```ts
 * normalizePrefix("/shop/services/"); // "/shop/services"
 * ```
 */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, "");
  if (trimmed === "" || !trimmed.startsWith("/")) {
    throw new Error(`discovery: the prefix ${JSON.stringify(prefix)} must start with "/" and not be "/"`);
  }
  return trimmed;
}

/**
 * The key of one instance: `<prefix>/<service>/<instanceId>`.
 *
 * @example
 * ```ts
 * instanceKey("/shop/services", "product", "product-7f3a"); // "/shop/services/product/product-7f3a"
 * ```
 */
export function instanceKey(prefix: string, service: string, instanceId: string): string {
  assertKeySegment("service", service);
  assertKeySegment("instance id", instanceId);
  return `${normalizePrefix(prefix)}/${service}/${instanceId}`;
}

/**
 * Splits a key under `prefix` into its service and instance id, or `undefined` for a key that does not
 * follow the layout.
 *
 * @example
 * ```ts
 * parseInstanceKey("/shop/services", "/shop/services/product/p-1"); // { service: "product", instanceId: "p-1" }
 * ```
 */
export function parseInstanceKey(
  prefix: string,
  key: string,
): { service: string; instanceId: string } | undefined {
  const start = `${normalizePrefix(prefix)}/`;
  if (!key.startsWith(start)) return undefined;
  const parts = key.slice(start.length).split("/");
  const [service, instanceId] = parts;
  if (parts.length !== 2 || service === undefined || instanceId === undefined) return undefined;
  if (!segment.test(service) || !segment.test(instanceId)) return undefined;
  return { service, instanceId };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string");
}

/**
 * Reads an instance record from the JSON stored at its key; `undefined` when the value is not one
 * (unknown fields are ignored, so newer writers can add some).
 *
 * @example
 * ```ts
 * const record = parseInstanceRecord('{"service":"product","instanceId":"p-1","address":"10.0.0.5","port":50052}');
 * record?.url; // "https://10.0.0.5:50052"
 * ```
 */
export function parseInstanceRecord(json: string): InstanceRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { service, instanceId, address, port } = v;
  if (typeof service !== "string" || typeof instanceId !== "string" || typeof address !== "string") {
    return undefined;
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const tls = typeof v.tls === "boolean" ? v.tls : true;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    service,
    instanceId,
    address,
    port,
    url: typeof v.url === "string" ? v.url : `${tls ? "https" : "http"}://${host}:${port}`,
    protocols: Array.isArray(v.protocols) ? v.protocols.filter((p) => typeof p === "string") : [],
    tls,
    mtls: typeof v.mtls === "boolean" ? v.mtls : tls,
    metricsPath: typeof v.metricsPath === "string" ? v.metricsPath : "/metrics",
    healthService: typeof v.healthService === "string" ? v.healthService : "grpc.health.v1.Health",
    version: typeof v.version === "string" ? v.version : "",
    startTime: typeof v.startTime === "string" ? v.startTime : "",
    hostname: typeof v.hostname === "string" ? v.hostname : "",
    pid: typeof v.pid === "number" ? v.pid : 0,
    metadata: isStringRecord(v.metadata) ? { ...v.metadata } : {},
  };
}
