/**
 * Small network helpers for starting servers on loopback.
 *
 * @module
 */

/** Ports of the dev stack and of well-known servers that a test must never take. */
const reservedPorts = new Set([27017, 27018, 27019, 28017]);

/** The ports this process handed out, so two callers never get the same one before either binds it. */
const handedOut = new Set<number>();

/**
 * The lowest port the kernel hands to outgoing connections (`ip_local_port_range`): a port at or above it
 * can be taken by any client's connection between the check and the bind (seen in loaded full runs:
 * Envoy's stats listener lost its port to an outgoing connection), so free ports are drawn below it.
 */
function ephemeralPortsStart(): number {
  try {
    const [low] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/);
    const start = Number(low);
    return Number.isInteger(start) && start > 0 ? start : 32768;
  } catch {
    return 32768;
  }
}

/** Whether a listener can bind 127.0.0.1:`port` right now. */
function bindable(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, drawn at random between 20000 and the kernel's
 * range for outgoing connections (so no client connection takes it meanwhile), never one this process
 * handed out before, and not a well-known server's. Another process may still take it before the server
 * binds it, so starters retry with a new port when a server fails to start.
 *
 * @example
 * ```ts ignore
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const low = 20_000;
  const high = ephemeralPortsStart() - 1;
  for (let attempt = 0; high - low > 1_000 && attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (reservedPorts.has(port) || handedOut.has(port) || !bindable(port)) continue;
    handedOut.add(port);
    return port;
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  handedOut.add(port);
  return port;
}

/**
 * Whether something accepts TCP connections on 127.0.0.1:`port`.
 *
 * @example
 * ```ts ignore
 * await acceptsConnections(5432); // true when PostgreSQL runs there
 * ```
 */
export async function acceptsConnections(port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Calls `start` with fresh free ports until it succeeds, at most `attempts` times: a port found free can
 * be taken by someone else before the server binds it.
 *
 * @example
 * ```ts ignore
 * const server = await withFreePorts(1, ([port]) => startEtcd(group, { port, ... }));
 * ```
 */
export async function withFreePorts<T>(
  count: number,
  start: (ports: number[]) => Promise<T>,
  attempts = 3,
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const ports = Array.from({ length: count }, () => freePort());
    try {
      return await start(ports);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
