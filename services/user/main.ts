/**
 * The user service's composition root: read config, build adapters, start the server.
 *
 * @module
 */
import { Counter } from "prom-client";
import { bearerTokenInterceptor, type UserClaims } from "@shop/platform/auth";
import { describeConfig, loadConfigOrExit } from "@shop/platform/config";
import { DomainError } from "@shop/platform/errors";
import { joinDiscovery } from "@shop/platform/discovery";
import { flushLogs, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";
import { createServiceMetrics, instrumentStore } from "@shop/platform/metrics";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { startServer, stopOnSignals } from "@shop/platform/server";
import { readTlsFiles } from "@shop/platform/tls";
import { devAdmin, userConfigSchema } from "./config.ts";
import { createScryptHasher } from "./credentials/password_hasher.ts";
import { createRefreshTokenMinter } from "./credentials/refresh_token_minter.ts";
import {
  createAccessTokenIssuer,
  createAccessTokenVerifier,
  type KeyRing,
  readKeyRing,
} from "./credentials/signing_keys.ts";
import { Accounts } from "./domain/accounts.ts";
import { PostgresUserStore } from "./store/postgres_user_store.ts";
import { jwksRoute } from "./transport/jwks_route.ts";
import { userRoutes } from "./transport/user_routes.ts";

const config = loadConfigOrExit(userConfigSchema, { envPrefix: "SHOP_USER", args: Deno.args });
await setupLogging({
  service: "user",
  instance: `user-${crypto.randomUUID().slice(0, 8)}`,
  level: config.log.level,
  ship: shipOptionsOf(config.log),
});
const log = serviceLogger("main");
log.info("Starting with {config}", { config: describeConfig(userConfigSchema, config) });

const sql = connectPostgres({
  url: config.database.url,
  applicationName: "user",
  maxConnections: config.database.maxConnections,
});
await migrate(sql, await readMigrations(new URL("./store/migrations/", import.meta.url)));

let ring: KeyRing = await readKeyRing(config.jwt.keysDir, {
  activationDelayMs: config.jwt.keyActivationDelay,
});
const reload = setInterval(async () => {
  try {
    ring = await readKeyRing(config.jwt.keysDir, { activationDelayMs: config.jwt.keyActivationDelay });
  } catch (error) {
    log.error("Keeping the current signing keys; reloading {dir} failed: {error}", {
      dir: config.jwt.keysDir,
      error,
    });
  }
}, config.jwt.keysReloadInterval);

// The operator's counters (README "Metrics"), on the registry /metrics serves.
const metrics = createServiceMetrics("user");
const loginFailures = new Counter({
  name: "shop_login_failures_total",
  help: "Refused sign-ins: invalid_credentials (wrong email or password) or throttled (too many failures).",
  labelNames: ["reason"],
  registers: [metrics.registry],
});
const tokensIssued = new Counter({
  name: "shop_tokens_issued_total",
  help: "Tokens issued, by kind (access, refresh) and grant (login, refresh).",
  labelNames: ["kind", "grant"],
  registers: [metrics.registry],
});
for (const reason of ["invalid_credentials", "throttled"]) loginFailures.inc({ reason }, 0);

const accessTokenPolicy = {
  issuer: config.jwt.issuer,
  audience: config.jwt.audience,
  ttlMs: config.jwt.accessTokenTtl,
};
const accounts = new Accounts({
  store: instrumentStore(new PostgresUserStore(sql), {
    registry: metrics.registry,
    store: "postgres",
    poolSize: config.database.maxConnections,
  }),
  onEvent: (event) => {
    if (event.type === "login_failed") loginFailures.inc({ reason: event.reason });
    else {
      tokensIssued.inc({ kind: "access", grant: event.grant });
      tokensIssued.inc({ kind: "refresh", grant: event.grant });
    }
  },
  hasher: await createScryptHasher({ logN: config.password.scryptLogN, r: 8, p: 1 }),
  accessTokens: createAccessTokenIssuer(() => ring, accessTokenPolicy),
  refreshTokens: createRefreshTokenMinter(),
  refreshTokenTtlMs: config.jwt.refreshTokenTtl,
  refreshFamilyLifetimeMs: config.jwt.refreshFamilyLifetime,
  throttle: {
    freeAttempts: config.signIn.freeAttempts,
    firstWaitMs: config.signIn.firstWait,
    maxWaitMs: config.signIn.maxWait,
    accountCeiling: config.signIn.accountCeiling,
    addressCeiling: config.signIn.addressCeiling,
    windowMs: config.signIn.window,
  },
});

// Every instance purges; the deletes are idempotent, so nothing needs to elect one.
const purge = setInterval(async () => {
  try {
    const deleted = await accounts.purgeExpired();
    log.debug(
      "Purged {loginFailures} sign-in failures, {attempts} throttle states, {refreshTokens} refresh tokens",
      {
        ...deleted,
      },
    );
  } catch (error) {
    log.warn("Purging expired sign-in data failed; trying again in {interval} ms: {error}", {
      interval: config.purge.interval,
      error,
    });
  }
}, config.purge.interval);

const admin = config.mode === "dev"
  ? { email: config.admin.email || devAdmin.email, password: config.admin.password || devAdmin.password }
  : config.admin;
if (admin.email && admin.password) {
  try {
    const seeded = await accounts.ensureAdmin(admin);
    const changed = seeded.outcome === "existing_other_password";
    log.info(
      changed
        ? "Admin account {id} exists and its password has changed since it was seeded; left as it is"
        : "Admin account {id} is ready ({outcome})",
      { id: seeded.user.id, outcome: seeded.outcome },
    );
  } catch (error) {
    if (!(error instanceof DomainError && error.reason === "ADMIN_EMAIL_TAKEN")) throw error;
    // Refusing to start rather than promoting: someone else registered the admin email first.
    log.error(
      "Refusing to start: {reason}. Set admin.email (SHOP_ADMIN_EMAIL) to an address nobody has registered, or make that account an admin by hand after checking who owns it",
      { reason: error.message },
    );
    await sql.end({ timeout: 5 });
    await flushLogs();
    Deno.exit(1);
  }
}

const verifyAccessToken = createAccessTokenVerifier(() => ring, accessTokenPolicy);

/** Verifies a bearer token presented directly (not through the gateway) against our own keys. */
async function verifyBearer(token: string): Promise<UserClaims | undefined> {
  const verified = await verifyAccessToken(token);
  return verified && { id: verified.userId, role: verified.role, claims: verified.claims };
}

const server = await startServer({
  service: "user",
  host: config.server.host,
  port: config.server.port,
  transport: { tls: await readTlsFiles(config.tls.certsDir, "user") },
  routes: userRoutes(accounts),
  metrics,
  interceptors: [bearerTokenInterceptor(verifyBearer)],
  httpRoutes: [jwksRoute(() => ring)],
  shutdownGraceMs: config.server.shutdownGrace,
  preStopDelayMs: config.server.preStopDelay,
});
server.onShutdown("close", async () => {
  clearInterval(reload);
  clearInterval(purge);
  await sql.end({ timeout: 5 });
  await flushLogs();
});
await joinDiscovery(server, config.discovery, "user");
stopOnSignals(server);
