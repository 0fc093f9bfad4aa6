import assert from "node:assert/strict";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import { tokenPolicy, writeSigningKey } from "../testdata/fixtures.ts";
import { bearerTokenVerifier } from "@shop/platform/auth";
import { createAccessTokenIssuer, readKeyRing } from "./signing_keys.ts";

async function withKeysDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "user-keys-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function verify(
  token: string,
  jwks: Parameters<typeof createLocalJWKSet>[0],
  options: { audience?: string; at?: Date } = {},
) {
  return jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: tokenPolicy.issuer,
    audience: options.audience ?? tokenPolicy.audience,
    algorithms: ["ES256"],
    ...(options.at ? { currentDate: options.at } : {}),
  });
}

async function rejects(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  assert.fail("expected verification to fail");
}

Deno.test("an access token verifies against the served JWKS and carries the documented claims", async () => {
  await withKeysDir(async (dir) => {
    await writeSigningKey(dir, "k-1");
    const ring = await readKeyRing(dir);
    const { token, expiresInSeconds } = await createAccessTokenIssuer(() => ring, tokenPolicy).issue({
      id: "u-1",
      role: "admin",
    });
    assert.deepEqual(decodeProtectedHeader(token), { alg: "ES256", kid: "k-1", typ: "JWT" });
    const { payload } = await verify(token, ring.jwks);
    assert.equal(payload.sub, "u-1");
    assert.equal(payload.role, "admin");
    assert.ok(payload.jti && payload.iat);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), expiresInSeconds);
    // Envoy needs kid and alg on every key; no private part is published.
    assert.deepEqual(Object.keys(ring.jwks.keys[0] ?? {}).sort(), [
      "alg",
      "crv",
      "kid",
      "kty",
      "use",
      "x",
      "y",
    ]);
  });
});

Deno.test("a token fails after expiry, for another audience, unsigned, or signed by a key not in the JWKS", async () => {
  await withKeysDir(async (dir) => {
    await writeSigningKey(dir, "k-1");
    const ring = await readKeyRing(dir);
    const { token } = await createAccessTokenIssuer(() => ring, tokenPolicy).issue({
      id: "u-1",
      role: "customer",
    });

    const later = new Date(Date.now() + tokenPolicy.ttlMs + 5_000);
    assert.match((await rejects(verify(token, ring.jwks, { at: later }))).message, /exp/);
    assert.match((await rejects(verify(token, ring.jwks, { audience: "someone-else" }))).message, /aud/);

    const [, payload] = token.split(".");
    const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${payload}.`;
    await rejects(verify(unsigned, ring.jwks));

    const stranger = await generateKeyPair("ES256");
    const forgedKnownKid = await new SignJWT({ role: "admin" }).setProtectedHeader({
      alg: "ES256",
      kid: "k-1",
    })
      .setIssuer(tokenPolicy.issuer).setAudience(tokenPolicy.audience).setSubject("u-1").setExpirationTime(
        "1m",
      )
      .sign(stranger.privateKey);
    await rejects(verify(forgedKnownKid, ring.jwks));
    const unknownKid = await new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "ES256", kid: "k-9" })
      .setIssuer(tokenPolicy.issuer).setAudience(tokenPolicy.audience).setSubject("u-1").setExpirationTime(
        "1m",
      )
      .sign(stranger.privateKey);
    await rejects(verify(unknownKid, ring.jwks));
    // Sanity: the stranger's own JWKS would accept it, so the refusals above are about the key.
    const strangerJwks = { keys: [{ ...await exportJWK(stranger.publicKey), kid: "k-9", alg: "ES256" }] };
    await verify(unknownKid, strangerJwks);
  });
});

Deno.test("rotation: the new key signs, and tokens of the old key verify until they expire", async () => {
  await withKeysDir(async (dir) => {
    await writeSigningKey(dir, "k-2026-01");
    let ring = await readKeyRing(dir);
    const issuer = createAccessTokenIssuer(() => ring, tokenPolicy);
    const old = await issuer.issue({ id: "u-1", role: "customer" });

    await writeSigningKey(dir, "k-2026-02");
    ring = await readKeyRing(dir);
    const fresh = await issuer.issue({ id: "u-1", role: "customer" });
    assert.equal(decodeProtectedHeader(fresh.token).kid, "k-2026-02");
    assert.deepEqual(ring.jwks.keys.map((k) => k.kid), ["k-2026-01", "k-2026-02"]);
    await verify(old.token, ring.jwks);
    await verify(fresh.token, ring.jwks);
  });
});

Deno.test("rotation through a caching gateway: a new key is published first and signs only after the delay", async () => {
  await withKeysDir(async (dir) => {
    await writeSigningKey(dir, "k-2026-01");
    const hourAgo = new Date(Date.now() - 3_600_000);
    await Deno.utime(`${dir}/k-2026-01.pem`, hourAgo, hourAgo);
    await writeSigningKey(dir, "k-2026-02");
    const delay = { activationDelayMs: 120_000 };

    const fresh = await readKeyRing(dir, delay);
    assert.equal(fresh.current.kid, "k-2026-01", "the new key does not sign yet");
    assert.deepEqual(fresh.jwks.keys.map((k) => k.kid), ["k-2026-01", "k-2026-02"], "but it is published");

    const later = await readKeyRing(dir, { ...delay, now: new Date(Date.now() + 121_000) });
    assert.equal(later.current.kid, "k-2026-02");

    // On a first start every key is new: the newest signs, there is no other.
    await Deno.remove(`${dir}/k-2026-01.pem`);
    assert.equal((await readKeyRing(dir, delay)).current.kid, "k-2026-02");
  });
});

Deno.test("the service refuses tokens without exp, claiming a longer life than it gives, or issued in the future", async () => {
  await withKeysDir(async (dir) => {
    await writeSigningKey(dir, "k-1");
    const ring = await readKeyRing(dir);
    const verifyHere = bearerTokenVerifier({
      jwks: () => ring.jwks,
      issuer: tokenPolicy.issuer,
      audience: tokenPolicy.audience,
      maxLifetimeMs: tokenPolicy.ttlMs,
    });
    const issued = await createAccessTokenIssuer(() => ring, tokenPolicy).issue({ id: "u-1", role: "admin" });
    assert.deepEqual(
      [(await verifyHere(issued.token))?.id, (await verifyHere(issued.token))?.role],
      ["u-1", "admin"],
    );

    // Signed with the service's own key (as a leaked key or a bug would), so only the claims are wrong.
    const now = Math.floor(Date.now() / 1000);
    const lifetime = tokenPolicy.ttlMs / 1000;
    const signed = (claims: { iat?: number; exp?: number }) => {
      let jwt = new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "ES256", kid: "k-1" })
        .setIssuer(tokenPolicy.issuer).setAudience(tokenPolicy.audience).setSubject("u-1");
      if (claims.iat !== undefined) jwt = jwt.setIssuedAt(claims.iat);
      if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
      return jwt.sign(ring.current.privateKey);
    };
    assert.ok(
      await verifyHere(await signed({ iat: now, exp: now + lifetime })),
      "a well-formed token passes",
    );
    assert.equal(await verifyHere(await signed({ iat: now })), undefined, "no exp");
    assert.equal(await verifyHere(await signed({ exp: now + lifetime })), undefined, "no iat");
    assert.equal(await verifyHere(await signed({ iat: now, exp: now + 365 * 86_400 })), undefined, "a year");
    assert.equal(
      await verifyHere(await signed({ iat: now, exp: now + lifetime + 1 })),
      undefined,
      "a second over",
    );
    assert.equal(
      await verifyHere(await signed({ iat: now + 600, exp: now + 600 + lifetime })),
      undefined,
      "issued in the future",
    );
  });
});
