import { join } from "node:path";
import { exportJWK, importPKCS8, type JWK, SignJWT } from "jose";
import type { AccessTokenIssuer } from "../domain/ports.ts";

/** One ES256 key: its id, the private key for signing, the public JWK for verifiers. */
interface SigningKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof importPKCS8>>;
  publicJwk: JWK;
}

/** The signing keys of the service: the newest signs, all of them verify. */
export interface KeyRing {
  /** The key that signs new tokens. */
  readonly current: SigningKey;
  /** Every key's public JWK, for `/.well-known/jwks.json`. */
  readonly jwks: { keys: JWK[] };
}

/** Options of {@linkcode readKeyRing}. */
export interface KeyRingOptions {
  /**
   * How long a new key is only published before it signs, in ms (0 unless set). Verifiers cache the
   * JWKS (Envoy for a minute), so a key that signed at once would make fresh tokens fail there until
   * their cache refreshed.
   */
  activationDelayMs?: number;
  now?: Date;
}

/**
 * Reads ES256 private keys (PKCS#8 PEM, one per file, named `<kid>.pem`) from a directory. Every key is
 * in the JWKS, so tokens signed by an older key verify until they expire. The key whose file name sorts
 * last among those older than `activationDelayMs` signs new tokens (when every key is newer, as on a
 * first start, the last one signs). To rotate: add a newer file; it signs once the delay has passed;
 * remove the old one only after the access token lifetime has passed too.
 *
 * @example
 * ```ts
 * const ring = await readKeyRing("certs/dev/jwt", { activationDelayMs: 120_000 });
 * ring.current.kid; // "dev-2026-11-25"
 * ```
 */
export async function readKeyRing(dir: string, options: KeyRingOptions = {}): Promise<KeyRing> {
  const files: string[] = [];
  const activeBefore = (options.now ?? new Date()).getTime() - (options.activationDelayMs ?? 0);
  const active = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".pem")) continue;
    files.push(entry.name);
    const written = (await Deno.stat(join(dir, entry.name))).mtime?.getTime() ?? 0;
    if (written <= activeBefore) active.add(entry.name.slice(0, -".pem".length));
  }
  files.sort();
  if (files.length === 0) throw new Error(`no signing keys (*.pem) in ${dir}`);
  const keys = await Promise.all(files.map(async (file): Promise<SigningKey> => {
    const kid = file.slice(0, -".pem".length);
    const pem = await Deno.readTextFile(join(dir, file));
    const privateKey = await importPKCS8(pem, "ES256", { extractable: true });
    const { kty, crv, x, y } = await exportJWK(privateKey);
    return { kid, privateKey, publicJwk: { kty, crv, x, y, kid, alg: "ES256", use: "sig" } as JWK };
  }));
  const current = keys.findLast((key) => active.has(key.kid)) ?? keys[keys.length - 1];
  if (!current) throw new Error(`no signing keys in ${dir}`);
  return { current, jwks: { keys: keys.map((key) => key.publicJwk) } };
}

/** What goes into every access token. */
export interface AccessTokenPolicy {
  issuer: string;
  audience: string;
  /** Lifetime in ms. */
  ttlMs: number;
}

/**
 * Issues ES256 access tokens with `iss`, `aud`, `sub`, `iat`, `exp`, `jti` and the `role` claim, signed
 * by the ring's current key and naming it in `kid`. `ring()` is read on every issue, so a reloaded ring
 * takes effect at once.
 *
 * @example
 * ```ts
 * const ring = await readKeyRing("certs/dev/jwt");
 * const issuer = createAccessTokenIssuer(() => ring, { issuer: "shop-user", audience: "shop", ttlMs: 900_000 });
 * const { token } = await issuer.issue({ id: "u-1", role: "customer" });
 * ```
 */
export function createAccessTokenIssuer(ring: () => KeyRing, policy: AccessTokenPolicy): AccessTokenIssuer {
  return {
    async issue(user) {
      const { current } = ring();
      const expiresInSeconds = Math.floor(policy.ttlMs / 1000);
      const token = await new SignJWT({ role: user.role })
        .setProtectedHeader({ alg: "ES256", kid: current.kid, typ: "JWT" })
        .setIssuer(policy.issuer)
        .setAudience(policy.audience)
        .setSubject(user.id)
        .setIssuedAt()
        .setExpirationTime(`${expiresInSeconds}s`)
        .setJti(crypto.randomUUID())
        .sign(current.privateKey);
      return { token, expiresInSeconds };
    },
  };
}
