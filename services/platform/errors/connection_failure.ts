/**
 * Errors that say a dependency is away rather than that the code is wrong: a connection to a store or
 * another server refused, reset or cut, a server shutting down or starting. The kit answers them
 * UNAVAILABLE (safe to retry), not INTERNAL.
 *
 * @module
 */

/** Node-style and postgres.js error codes of a connection that failed or was cut. */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** PostgreSQL SQLSTATEs: shutting down, crashed, starting up (57P01-57P03), connection exceptions (08). */
const postgresStates = /^(57P0[1-3]|08[0-9A-Z]{3})$/;

/** The MongoDB driver's errors of a server it cannot reach. */
const mongoNames = /^Mongo(Network\w*|ServerSelection|PoolCleared|NotConnected|TopologyClosed)Error$/;

/** Deno's own errors of a connection that failed or was cut. */
const denoNames = new Set([
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "BrokenPipe",
  "TimedOut",
]);

/**
 * Whether `error` (or an error in its `cause` chain) says a dependency could not be reached or cut the
 * connection: PostgreSQL or FerretDB restarting, a server refusing connections.
 *
 * @example
 * ```ts
 * isConnectionFailure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })); // true
 * isConnectionFailure(new TypeError("x is undefined")); // false
 * ```
 */
export function isConnectionFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (connectionCodes.has(code) || postgresStates.test(code))) return true;
    if (mongoNames.test(current.name) || denoNames.has(current.name)) return true;
    current = current.cause;
  }
  return false;
}
