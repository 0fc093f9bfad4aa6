/**
 * The user service as a real process: PostgreSQL from the harness, mTLS, JWKS over HTTPS.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createLocalJWKSet, importPKCS8, jwtVerify, SignJWT } from "jose";
import { createServiceTransport } from "@shop/platform/client";
import { createResolver } from "@shop/platform/discovery";
import { connectPostgres } from "@shop/platform/postgres";
import { etcdForTests, eventually, postgresForTests } from "@shop/platform/testing";
import { startServiceProcess } from "../platform/testing/service_process.ts";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { AuthService, Role, UserService } from "@shop/proto/user";
import { writeSigningKey } from "./testdata/fixtures.ts";

const certsDir = await ensureDevCertificates();
const main = new URL("./main.ts", import.meta.url);

function serviceEnv(databaseUrl: string, keysDir: string, extra: Record<string, string> = {}) {
  return {
    SHOP_ENV: "dev",
    SHOP_USER_SERVER_PORT: "0",
    SHOP_USER_DATABASE_URL: databaseUrl,
    SHOP_USER_TLS_CERTS_DIR: certsDir,
    SHOP_USER_JWT_KEYS_DIR: keysDir,
    SHOP_USER_PASSWORD_SCRYPT_LOG_N: "12",
    SHOP_USER_DISCOVERY_ENABLED: "false",
    ...extra,
  };
}

async function startUserService(databaseUrl: string, keysDir: string, extra: Record<string, string> = {}) {
  return await startServiceProcess(main, { env: serviceEnv(databaseUrl, keysDir, extra) });
}

Deno.test("the user service registers, signs in, serves its JWKS and answers the signed-in user", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_main" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  await using service = await startUserService(db.url, keysDir);
  const gatewayTls = await readTlsFiles(certsDir, "gateway");
  const transport = createServiceTransport({ baseUrl: service.url, tls: gatewayTls });
  try {
    const users = createClient(UserService, transport);
    const auth = createClient(AuthService, transport);
    const { user } = await users.registerUser({
      email: "ada@example.com",
      password: "correct horse battery",
      displayName: "Ada",
    });
    const session = await auth.login({ email: "ada@example.com", password: "correct horse battery" });

    // The JWKS, over the same mTLS port, verifies the token.
    const client = Deno.createHttpClient({
      caCerts: [gatewayTls.ca],
      cert: gatewayTls.cert,
      key: gatewayTls.key,
    });
    const response = await fetch(`${service.url}/.well-known/jwks.json`, { client });
    const jwks = await response.json();
    client.close();
    const { payload } = await jwtVerify(session.accessToken, createLocalJWKSet(jwks), {
      issuer: "shop-user",
      audience: "shop",
    });
    assert.equal(payload.sub, user?.id);

    // Called directly with a bearer token (no gateway claims), the service verifies it itself.
    const me = await users.getCurrentUser({}, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    assert.equal(me.user?.email, "ada@example.com");
    const forged = await users.getCurrentUser({}, {
      headers: { authorization: `Bearer ${session.accessToken}x` },
    })
      .then(() => undefined, (error) => ConnectError.from(error));
    assert.equal(forged?.code, Code.Unauthenticated);
    // A token signed with the service's own key but without exp, or living a year, is refused too.
    const key = await importPKCS8(await Deno.readTextFile(`${keysDir}/k-1.pem`), "ES256");
    for (const expiry of [undefined, "365d"]) {
      let jwt = new SignJWT({ role: "customer" }).setProtectedHeader({ alg: "ES256", kid: "k-1" })
        .setIssuer("shop-user").setAudience("shop").setSubject(user?.id ?? "").setIssuedAt();
      if (expiry) jwt = jwt.setExpirationTime(expiry);
      const error = await users.getCurrentUser({}, {
        headers: { authorization: `Bearer ${await jwt.sign(key)}` },
      })
        .then(() => undefined, (e) => ConnectError.from(e));
      assert.equal(error?.code, Code.Unauthenticated, `a token expiring ${expiry ?? "never"}`);
    }
  } finally {
    transport.close();
    await Deno.remove(keysDir, { recursive: true });
  }
});

Deno.test("the dev admin is seeded from SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD and may list users", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_admin" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  await using service = await startUserService(db.url, keysDir, {
    SHOP_ADMIN_EMAIL: "boss@example.com",
    SHOP_ADMIN_PASSWORD: "a long admin secret",
  });
  const transport = createServiceTransport({
    baseUrl: service.url,
    tls: await readTlsFiles(certsDir, "gateway"),
  });
  try {
    const session = await createClient(AuthService, transport).login({
      email: "boss@example.com",
      password: "a long admin secret",
    });
    const headers = { authorization: `Bearer ${session.accessToken}` };
    const { users } = await createClient(UserService, transport).listUsers({}, { headers });
    assert.deepEqual(users.map((u) => [u.email, u.role]), [["boss@example.com", Role.ADMIN]]);
  } finally {
    transport.close();
    await Deno.remove(keysDir, { recursive: true });
  }
});

Deno.test("claims in x-jwt-payload are ignored unless the caller's certificate is the gateway's", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_claims" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  await using service = await startUserService(db.url, keysDir);
  const claims = btoa(JSON.stringify({ sub: crypto.randomUUID(), role: "admin" })).replace(/=+$/, "");
  const transport = createServiceTransport({
    baseUrl: service.url,
    tls: await readTlsFiles(certsDir, "order"),
  });
  try {
    const error = await createClient(UserService, transport).listUsers({}, {
      headers: { "x-jwt-payload": claims },
    })
      .then(() => undefined, (e) => ConnectError.from(e));
    assert.equal(error?.code, Code.Unauthenticated);
  } finally {
    transport.close();
    await Deno.remove(keysDir, { recursive: true });
  }
});

Deno.test("unknown JSON fields are refused with INVALID_ARGUMENT and nothing is written", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_json" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  await using service = await startUserService(db.url, keysDir);
  const tls = await readTlsFiles(certsDir, "gateway");
  const client = Deno.createHttpClient({ caCerts: [tls.ca], cert: tls.cert, key: tls.key });
  try {
    const post = (body: unknown) =>
      fetch(`${service.url}/shop.user.v1.UserService/RegisterUser`, {
        method: "POST",
        client,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const refused = await post({
      email: "eve@example.com",
      password: "correct horse battery",
      displayName: "Eve",
      role: "ROLE_ADMIN",
    });
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).code, "invalid_argument");
    const accepted = await post({
      email: "eve@example.com",
      password: "correct horse battery",
      displayName: "Eve",
    });
    assert.equal(accepted.status, 200, "the same email is still free: the refused call wrote nothing");
    assert.equal((await accepted.json()).user.role, "ROLE_CUSTOMER");
  } finally {
    client.close();
    await Deno.remove(keysDir, { recursive: true });
  }
});

Deno.test("the user service registers in etcd at start and leaves it on SIGTERM before it stops", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_discovery" });
  await using ns = await (await etcdForTests()).createNamespace({ label: "user" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  const prefix = `${ns.prefix}services`;
  await using service = await startUserService(db.url, keysDir, {
    SHOP_USER_DISCOVERY_ENABLED: "true",
    SHOP_USER_DISCOVERY_ETCD: ns.url,
    SHOP_USER_DISCOVERY_PREFIX: prefix,
    SHOP_USER_SERVER_PRE_STOP_DELAY: "500ms",
  });
  await using resolver = createResolver({ etcd: ns.root, prefix });
  try {
    await resolver.ready();
    await eventually("the user service registered", () => resolver.endpoints("user").length > 0);
    assert.deepEqual(resolver.endpoints("user").map((e) => e.url), [service.url]);
    service.signal("SIGTERM");
    await eventually("the user service left the registry", () => resolver.endpoints("user").length === 0);
    assert.deepEqual(resolver.endpoints("user"), []);
    assert.equal((await service.child.status).code, 0);
  } finally {
    await Deno.remove(keysDir, { recursive: true });
  }
});

Deno.test("the service refuses to start when a customer registered the admin email first, and says why", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_squat" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  try {
    {
      await using first = await startUserService(db.url, keysDir, { SHOP_ADMIN_EMAIL: "root@example.com" });
      const transport = createServiceTransport({
        baseUrl: first.url,
        tls: await readTlsFiles(certsDir, "gateway"),
      });
      await createClient(UserService, transport).registerUser({
        email: "boss@example.com",
        password: "the squatter's secret",
        displayName: "Not the boss",
      });
      transport.close();
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", main.pathname],
      env: serviceEnv(db.url, keysDir, {
        SHOP_ADMIN_EMAIL: "boss@example.com",
        SHOP_ADMIN_PASSWORD: "a long admin secret",
        NO_COLOR: "1",
      }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 1);
    const lines = new TextDecoder().decode(output.stdout).split("\n").filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const refusal = lines.find((line) => line.level === "error");
    assert.match(
      String(refusal?.message),
      /Refusing to start: the configured admin email belongs to customer account/,
    );
    assert.ok(!lines.some((line) => String(line.message).startsWith("Serving ")));
    // The account is still the customer it was.
    const sql = connectPostgres({ url: db.url, applicationName: "squat-test" });
    const rows = await sql<{ role: string }[]>`SELECT role FROM users WHERE email_key = 'boss@example.com'`;
    await sql.end({ timeout: 5 });
    assert.deepEqual(rows.map((row) => row.role), ["customer"]);
  } finally {
    await Deno.remove(keysDir, { recursive: true });
  }
});

Deno.test("old sign-in failures, idle throttle states and expired refresh tokens are purged on a schedule", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_purge" });
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-1");
  await using service = await startUserService(db.url, keysDir, { SHOP_USER_PURGE_INTERVAL: "1s" });
  const transport = createServiceTransport({
    baseUrl: service.url,
    tls: await readTlsFiles(certsDir, "gateway"),
  });
  const sql = connectPostgres({ url: db.url, applicationName: "purge-test" });
  try {
    const { user } = await createClient(UserService, transport).registerUser({
      email: "ada@example.com",
      password: "correct horse battery",
      displayName: "Ada",
    });
    const live = await createClient(AuthService, transport).login({
      email: "ada@example.com",
      password: "correct horse battery",
    });
    const dayAgo = new Date(Date.now() - 24 * 3_600_000);
    await sql`INSERT INTO login_failures (throttle_key, fail_time) VALUES ('account:old@example.com', ${dayAgo})`;
    await sql`INSERT INTO sign_in_attempts (throttle_key, attempts, last_time) VALUES ('pair:old@example.com|', 4, ${dayAgo})`;
    await sql`
      INSERT INTO refresh_tokens (token_hash, user_id, family_id, create_time, expire_time, family_expire_time)
      VALUES ('expired-token-hash', ${
      user?.id ?? ""
    }, ${crypto.randomUUID()}, ${dayAgo}, ${dayAgo}, ${dayAgo})`;
    const left = async () => {
      const [row] = await sql<{ failures: number; attempts: number; tokens: number }[]>`
        SELECT (SELECT count(*)::int FROM login_failures) AS failures,
               (SELECT count(*)::int FROM sign_in_attempts WHERE last_time < now() - interval '1 hour') AS attempts,
               (SELECT count(*)::int FROM refresh_tokens WHERE expire_time < now()) AS tokens`;
      return row;
    };
    await eventually("the purge job ran", async () => {
      const counts = await left();
      return counts?.failures === 0 && counts.attempts === 0 && counts.tokens === 0;
    });
    assert.deepEqual(await left(), { failures: 0, attempts: 0, tokens: 0 });
    // The live session is untouched.
    await createClient(AuthService, transport).refreshToken({ refreshToken: live.refreshToken });
  } finally {
    await sql.end({ timeout: 5 });
    transport.close();
    await Deno.remove(keysDir, { recursive: true });
  }
});
