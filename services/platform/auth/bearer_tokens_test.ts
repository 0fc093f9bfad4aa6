import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { bearerTokenVerifier } from "./bearer_tokens.ts";

const { privateKey, publicKey } = await generateKeyPair("ES256");
const jwks = { keys: [{ ...await exportJWK(publicKey), kid: "k-1", alg: "ES256" }] };
const verify = bearerTokenVerifier({
  jwks: () => jwks,
  issuer: "shop-user",
  audience: "shop",
  maxLifetimeMs: 5 * 60_000,
});

function token(claims: Record<string, unknown>, options: { audience?: string; subject?: string } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k-1" }).setIssuer("shop-user")
    .setAudience(options.audience ?? "shop").setIssuedAt().setExpirationTime("5m");
  return (options.subject === undefined ? jwt : jwt.setSubject(options.subject)).sign(privateKey);
}

Deno.test("bearerTokenVerifier() gives the user of a token signed by a current key", async () => {
  const admin = await verify(await token({ role: "admin" }, { subject: "u-1" }));
  assert.equal(admin?.id, "u-1");
  assert.equal(admin?.role, "admin");
  assert.equal((await verify(await token({}, { subject: "u-2" })))?.role, "customer");
});

Deno.test("bearerTokenVerifier() refuses another audience, a token without subject, and garbage", async () => {
  assert.equal(await verify(await token({}, { subject: "u-1", audience: "elsewhere" })), undefined);
  assert.equal(await verify(await token({})), undefined);
  assert.equal(await verify("not.a.token"), undefined);
  const other = await generateKeyPair("ES256");
  const forged = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k-1" }).setIssuer("shop-user")
    .setAudience("shop").setSubject("u-1").setExpirationTime("5m").sign(other.privateKey);
  assert.equal(await verify(forged), undefined);
});
