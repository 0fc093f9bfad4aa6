/**
 * When the stack is ready: the gateway routes to every instance of every service. Read from Envoy's admin
 * `/clusters` (which hosts pass the active health checks) and by calling each service through the gateway.
 *
 * @module
 */
import { adminRequest, eventually } from "@shop/platform/testing";
import { type StackService, stackServices } from "./services.ts";

/** One upstream host as Envoy's admin `/clusters` reports it. */
export interface ClusterHost {
  /** `127.0.0.1:PORT`. */
  address: string;
  port: number;
  /** `healthy`, or the failed checks such as `/failed_active_hc`. */
  healthFlags: string;
  /** Requests Envoy has sent to this host so far. */
  requests: number;
}

/**
 * The hosts of one cluster from Envoy's admin `/clusters` text, e.g. lines
 * `product::127.0.0.1:4711::health_flags::healthy` and `product::127.0.0.1:4711::rq_total::12`.
 *
 * @example
 * ```ts
 * parseClusters("product::127.0.0.1:4711::rq_total::3\nproduct::127.0.0.1:4711::health_flags::healthy", "product");
 * // [{ address: "127.0.0.1:4711", port: 4711, healthFlags: "healthy", requests: 3 }]
 * ```
 */
export function parseClusters(text: string, cluster: string): ClusterHost[] {
  const hosts = new Map<string, ClusterHost>();
  for (const line of text.split("\n")) {
    const parts = line.split("::");
    if (parts.length !== 4 || parts[0] !== cluster) continue;
    const [, address = "", key, value = ""] = parts;
    if (!/^[\d.]+:\d+$/.test(address)) continue;
    const host = hosts.get(address) ??
      { address, port: Number(address.split(":")[1]), healthFlags: "", requests: 0 };
    hosts.set(address, host);
    if (key === "health_flags") host.healthFlags = value;
    if (key === "rq_total") host.requests = Number(value);
  }
  return [...hosts.values()];
}

/**
 * The hosts of a cluster in the Envoy whose admin API is the Unix socket `adminSocket`.
 *
 * @example
 * ```ts ignore
 * const hosts = await clusterHosts(".local/envoy/admin.sock", "product");
 * ```
 */
export async function clusterHosts(adminSocket: string, cluster: string): Promise<ClusterHost[]> {
  const { status, body } = await adminRequest(adminSocket, "/clusters");
  if (status !== 200) throw new Error(`Envoy's admin /clusters answered ${status}`);
  return parseClusters(body, cluster);
}

/**
 * Waits until `check` holds for a cluster's hosts; the error names `what` and the hosts it last saw.
 *
 * @example
 * ```ts ignore
 * await waitForHosts(adminSocket, "product", "two healthy hosts", (hosts) => hosts.length === 2, 30_000);
 * ```
 */
export async function waitForHosts(
  adminSocket: string,
  cluster: string,
  what: string,
  check: (hosts: ClusterHost[]) => boolean,
  timeoutMs: number,
): Promise<ClusterHost[]> {
  let hosts: ClusterHost[] = [];
  return await eventually(`the gateway's ${cluster} cluster has ${what}`, async () => {
    hosts = await clusterHosts(adminSocket, cluster).catch(() => []);
    return check(hosts) && hosts;
  }, { timeoutMs, lastSeen: () => hosts });
}

/** What {@linkcode waitUntilRouted} checks. */
export interface RoutedCheck {
  /** The gateway: `https://127.0.0.1:PORT` and its admin API's Unix socket. */
  gateway: { url: string; adminSocket: string };
  /** The dev CA, PEM. */
  ca: string;
  /** An account that can sign in (the seeded admin). */
  admin: { email: string; password: string };
  /** A GET path of each service that answers 200 to the signed-in admin through the gateway. */
  probes: Record<StackService, string>;
  /** The ports of the instances each cluster must have healthy, no more, no fewer. */
  ports: Record<StackService, number[]>;
  /** When to give up (`Date.now()` time). */
  deadline: number;
  /**
   * What the stack knows about a service's routing, added to the error when its cluster is not ready
   * (the registry's keys, the endpoint file, the edge bridge's last lines): a failure on a machine
   * nobody can log in to must say where the chain broke.
   */
  diagnose?: (service: StackService) => Promise<string>;
}

/**
 * Waits until a gateway routes to every service: each cluster has exactly the expected instances
 * healthy, and, signed in as the admin, a REST call of each service answers 200 (which also shows that a
 * token the user service signed verifies at the gateway: it fetched the JWKS). The error names what was not ready.
 *
 * @example
 * ```ts ignore
 * await waitUntilRouted({ gateway, ca, admin, ports: { user: [50051], ... }, deadline: Date.now() + 120_000 });
 * ```
 */
export async function waitUntilRouted(check: RoutedCheck): Promise<void> {
  const left = () => Math.max(check.deadline - Date.now(), 1);
  const notReady = (error: unknown): never => {
    throw new Error(`the stack is not ready: ${error instanceof Error ? error.message : error}`);
  };
  for (const service of stackServices) {
    const expected = [...check.ports[service]].sort();
    const diagnosed = async (error: unknown): Promise<never> => {
      const diagnosis = await check.diagnose?.(service).catch((e) => `no diagnosis: ${e}`);
      return notReady(
        diagnosis === undefined
          ? error
          : new Error(`${error instanceof Error ? error.message : error}\n${diagnosis}`),
      );
    };
    await waitForHosts(
      check.gateway.adminSocket,
      service,
      `its ${expected.length} instance(s) (ports ${expected.join(", ")}) healthy`,
      (hosts) =>
        JSON.stringify(hosts.filter((h) => h.healthFlags === "healthy").map((h) => h.port).sort()) ===
          JSON.stringify(expected),
      left(),
    ).catch(diagnosed);
  }
  const client = Deno.createHttpClient({ caCerts: [check.ca] });
  try {
    const answers = (what: string, path: string, init: RequestInit = {}) =>
      eventually(`${what} answers 200 through ${check.gateway.url}`, async () => {
        const response = await fetch(`${check.gateway.url}${path}`, { ...init, client });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`${response.status} ${text.slice(0, 300)}`);
        return text;
      }, { timeoutMs: left(), intervalMs: 200 }).catch(notReady);
    const login = await answers("POST /v1/auth:login (user service)", "/v1/auth:login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(check.admin),
    });
    const { accessToken } = JSON.parse(login) as { accessToken: string };
    const headers = { authorization: `Bearer ${accessToken}` };
    // The gateway fetches the JWKS in the background once the user cluster is up: until then, 401.
    for (const service of stackServices) {
      await answers(`GET ${check.probes[service]} (${service} service)`, check.probes[service], { headers });
    }
  } finally {
    client.close();
  }
}
