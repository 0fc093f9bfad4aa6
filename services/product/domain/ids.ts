/**
 * Product ids: random, or derived from a create request's id so that a retry finds its product.
 *
 * @module
 */

function asUuid(bytes: Uint8Array): string {
  const hex = Array.from(bytes.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20, 32)
  }`;
}

/**
 * A UUID-shaped id that is the same for the same key: SHA-256 of `key`, cut to 16 bytes. Used for
 * creates with a request id (the key names the admin and the request) and for the seeded demo catalog.
 *
 * @example
 * ```ts
 * await derivedId("create:admin-1:req-42"); // the same string every time
 * ```
 */
export async function derivedId(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return asUuid(new Uint8Array(digest));
}
