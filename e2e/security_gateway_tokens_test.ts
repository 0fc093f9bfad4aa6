/**
 * Issue 17, items 7 and 8 at the gateway: an access token is taken from the Authorization header only
 * (never from the query string), no query string reaches the access log, and tokens without `exp` or
 * issued for longer than the gateway's maximum lifetime are refused.
 */
import assert from "node:assert/strict";
import { importPKCS8, SignJWT } from "jose";
import { restClient } from "./rest.ts";
import { admin, startGatewayStack } from "../envoy/testdata/gateway_stack.ts";

Deno.test("the gateway takes tokens from the Authorization header only, keeps them out of its log, and refuses tokens that live too long", async (t) => {
  await using stack = await startGatewayStack({ label: "security_tokens" });
  const rest = restClient(stack);
  const login = await rest("POST", "/v1/auth:login", { body: admin });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const token = String(login.body.accessToken);
  const me = await rest("GET", "/v1/users/me", { token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  const userId = String((me.body.user as Record<string, unknown>).id);
  const client = stack.client();
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${stack.url}${path}`, { client, headers });
    return { status: response.status, text: await response.text() };
  };
  const connectGet = "/shop.user.v1.UserService/GetCurrentUser?connect=v1&encoding=json&message=%7B%7D";

  await t.step("a token in the query string is not a credential, on any protocol", async () => {
    const withHeader = await get(connectGet, { authorization: `Bearer ${token}` });
    assert.equal(withHeader.status, 200, `the control call with the header works: ${withHeader.text}`);
    const inQuery = await get(`${connectGet}&access_token=${token}`);
    assert.equal(inQuery.status, 401, inQuery.text);
    const restInQuery = await get(`/v1/users/me?access_token=${token}`);
    assert.ok([400, 401].includes(restInQuery.status), `REST: ${restInQuery.status} ${restInQuery.text}`);
    const restOther = await get(`/v1/users/me?token=${token}`);
    assert.ok([400, 401].includes(restOther.status), `REST: ${restOther.status} ${restOther.text}`);
  });

  await t.step("no query string, and so no token sent in one, reaches the access log", async () => {
    const marker = `tokens-in-query-${crypto.randomUUID()}`;
    const paths = [
      `${connectGet}&access_token=${token}`,
      `/v1/users/me?access_token=${token}`,
      `/v1/products?query=${token}`,
      `/shop.product.v1.ProductService/ListProducts?connect=v1&encoding=json&message=%7B%7D&access_token=${token}`,
      `/no/such/route?access_token=${token}`,
    ];
    for (const [i, path] of paths.entries()) await get(path, { "x-request-id": `${marker}-${i}` });
    // Envoy flushes its access log about once a second.
    const deadline = Date.now() + 20_000;
    let lines: string[] = [];
    while (Date.now() < deadline) {
      const log = await Deno.readTextFile(stack.envoy.process.logFile);
      lines = log.split("\n").filter((line) => line.includes(marker));
      if (lines.length === paths.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(lines.length, paths.length, "every request was logged");
    const signature = token.split(".")[2] ?? token;
    const log = await Deno.readTextFile(stack.envoy.process.logFile);
    assert.ok(!log.includes(signature), "no token in Envoy's output");
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, string>;
      assert.ok(!String(entry.path).includes("?"), `no query string in the logged path: ${entry.path}`);
      assert.ok(!String(entry.grpc_method).includes("?"), `nor in the method: ${entry.grpc_method}`);
    }
  });

  await t.step(
    "tokens without exp, or issued for longer than the maximum lifetime, are refused",
    async () => {
      const key = await importPKCS8(await Deno.readTextFile(`${stack.keysDir}/k-1.pem`), "ES256");
      const now = Math.floor(Date.now() / 1000);
      const maxLifetime = stack.settings.jwt.maxLifetimeSeconds;
      const sign = (claims: { iat?: number; exp?: number }) =>
        new SignJWT({ role: "admin", aud: "shop", ...claims })
          .setProtectedHeader({ alg: "ES256", kid: "k-1" })
          .setIssuer("shop-user")
          .setSubject(userId)
          .sign(key);
      const call = async (jwt: string) =>
        (await get("/v1/users/me", { authorization: `Bearer ${jwt}` })).status;
      assert.equal(await call(await sign({ iat: now, exp: now + 600 })), 200, "the control token works");
      assert.equal(await call(await sign({ iat: now })), 401, "no exp");
      assert.equal(await call(await sign({})), 401, "neither iat nor exp");
      // Envoy measures the lifetime from now: `exp` may be at most the maximum lifetime ahead.
      assert.equal(
        await call(await sign({ iat: now, exp: now + maxLifetime + 600 })),
        401,
        "too long a lifetime",
      );
    },
  );
});
