import { createHash } from "node:crypto";
import type { RefreshTokenMinter } from "../domain/ports.ts";

/**
 * Opaque refresh tokens: 32 random bytes, base64url, stored only as their SHA-256 (a fast hash is right
 * here: the token has 256 bits of entropy, unlike a password).
 *
 * @example
 * ```ts
 * const minter = createRefreshTokenMinter();
 * const { token, tokenHash } = minter.mint();
 * minter.hashOf(token) === tokenHash; // true
 * ```
 */
export function createRefreshTokenMinter(): RefreshTokenMinter {
  const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");
  return {
    mint() {
      const bytes = crypto.getRandomValues(new Uint8Array(32));
      const token = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(
        /=+$/,
        "",
      );
      return { token, tokenHash: hashOf(token) };
    },
    hashOf,
  };
}
