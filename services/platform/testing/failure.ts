/**
 * The error of a call that must fail, for asserting on its code, message and details.
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";

/**
 * Awaits a call that must fail and returns its error as a `ConnectError` (any other error is wrapped by
 * `ConnectError.from`, with code `UNKNOWN`); throws when the call succeeds.
 *
 * @example
 * ```ts ignore
 * import { Code } from "@connectrpc/connect";
 * import { failure } from "@shop/platform/testing";
 *
 * const error = await failure(users.getUser({ id: "nobody" }));
 * assert.equal(error.code, Code.NotFound);
 * ```
 */
export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail, and it succeeded");
}
