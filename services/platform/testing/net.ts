/**
 * Small network helpers for starting servers on loopback.
 *
 * @module
 */

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before the server
 * binds it, so starters retry with a new port when a server fails to start.
 *
 * @example
 * ```ts ignore
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
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
