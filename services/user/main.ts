/**
 * The user service's composition root: its store, signing keys, counters and the admin account, on the
 * kit's service skeleton (`runService`).
 *
 * @module
 */
import { Counter } from "prom-client";
import { bearerTokenInterceptor, bearerTokenVerifier } from "@shop/platform/auth";
import { DomainError } from "@shop/platform/errors";
import { flushLogs } from "@shop/platform/log";
import { instrumentStore } from "@shop/platform/metrics";
import { runService } from "@shop/platform/service";
import { devAdmin, userConfigSchema } from "./config.ts";
import { createScryptHasher } from "./credentials/password_hasher.ts";
import { createRefreshTokenMinter } from "./credentials/refresh_token_minter.ts";
import { createAccessTokenIssuer, type KeyRing, readKeyRing } from "./credentials/signing_keys.ts";
import { Accounts } from "./domain/accounts.ts";
import { PostgresUserStore } from "./store/postgres_user_store.ts";
import { jwksRoute } from "./transport/jwks_route.ts";
import { userAllowedPeers, userRoutes } from "./transport/user_routes.ts";

await runService({
  service: "user",
  schema: userConfigSchema,
  setup: async ({ config, log, metrics, postgres, every }) => {
    const sql = await postgres(new URL("./store/migrations/", import.meta.url));

    const readKeys = () =>
      readKeyRing(config.jwt.keysDir, { activationDelayMs: config.jwt.keyActivationDelay });
    let ring: KeyRing = await readKeys();
    every("signing-keys", config.jwt.keysReloadInterval, async () => {
      try {
        ring = await readKeys();
      } catch (error) {
        log.error("Keeping the current signing keys; reloading {dir} failed: {error}", {
          dir: config.jwt.keysDir,
          error,
        });
      }
    });

    // The operator's counters (README "Metrics"), on the registry /metrics serves.
    const loginFailures = new Counter({
      name: "shop_login_failures_total",
      help:
        "Refused sign-ins: invalid_credentials (wrong email or password) or throttled (too many failures).",
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
      accessTokens: createAccessTokenIssuer(() => ring, {
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
        ttlMs: config.jwt.accessTokenTtl,
      }),
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
    every("purge-sign-in-data", config.purge.interval, async () => {
      const deleted = await accounts.purgeExpired();
      log.debug(
        "Purged {loginFailures} sign-in failures, {attempts} throttle states, {refreshTokens} refresh tokens",
        { ...deleted },
      );
    });

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
        await flushLogs();
        Deno.exit(1);
      }
    }

    return {
      routes: userRoutes(accounts),
      allowedPeers: userAllowedPeers,
      // A token presented straight to the service (not through the gateway) is verified against our own keys.
      interceptors: [bearerTokenInterceptor(bearerTokenVerifier({
        jwks: () => ring.jwks,
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
        maxLifetimeMs: config.jwt.accessTokenTtl,
      }))],
      httpRoutes: [jwksRoute(() => ring)],
    };
  },
});
