/**
 * The user service's configuration schema (see the kit's README for how values are layered).
 *
 * @module
 */
import {
  duration,
  integer,
  modeField,
  postgresConfigSchema,
  serverConfigSchema,
  string,
  tlsConfigSchema,
} from "@shop/platform/config";
import { discoveryConfigSchema } from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";

/** The documented dev-only admin account, used only when `mode` is `dev` and nothing else is set. */
export const devAdmin = { email: "admin@shop.local", password: "dev-only-admin-password" } as const;

/** Every key of the user service, with its default. */
export const userConfigSchema = {
  mode: modeField(),
  server: serverConfigSchema({ port: 50051 }),
  tls: tlsConfigSchema(),
  database: postgresConfigSchema(),
  jwt: {
    /** Directory of ES256 PKCS#8 keys, `<kid>.pem`; the last by name signs. */
    keysDir: string({ minLength: 1 }),
    keysReloadInterval: duration({ default: 30_000, min: 1_000 }),
    /** How long a new key is only published before it signs: longer than verifiers cache the JWKS. */
    keyActivationDelay: duration({ default: 120_000, max: 24 * 3_600_000 }),
    issuer: string({ default: "shop-user", minLength: 1 }),
    audience: string({ default: "shop", minLength: 1 }),
    /**
     * How long an access token lives, and the longest lifetime a token may claim here. Access tokens
     * are not revoked: this is how long one outlives logout, a password change or a demotion.
     */
    accessTokenTtl: duration({ default: 5 * 60_000, min: 10_000, max: 60 * 60_000 }),
    /** How long an unused refresh token lives; each rotation starts it again. */
    refreshTokenTtl: duration({ default: 30 * 24 * 3_600_000, min: 60_000 }),
    /** How long a sign-in's refresh-token family lives at most, however often it rotates. */
    refreshFamilyLifetime: duration({ default: 90 * 24 * 3_600_000, min: 60_000 }),
  },
  /** How password guessing is slowed (`ThrottlePolicy` in `domain/accounts.ts`). */
  signIn: {
    freeAttempts: integer({ default: 3, min: 1, max: 100 }),
    firstWait: duration({ default: 1_000, min: 100, max: 3_600_000 }),
    maxWait: duration({ default: 15 * 60_000, min: 1_000, max: 24 * 3_600_000 }),
    accountCeiling: integer({ default: 100, min: 1 }),
    addressCeiling: integer({ default: 100, min: 1 }),
    window: duration({ default: 15 * 60_000, min: 1_000, max: 24 * 3_600_000 }),
  },
  /** How often old sign-in failures, idle throttle states and expired refresh tokens are deleted. */
  purge: {
    interval: duration({ default: 10 * 60_000, min: 1_000, max: 24 * 3_600_000 }),
  },
  password: {
    /** scrypt cost as log2(N); 15 means 32 MiB per hash. */
    scryptLogN: integer({ default: 15, min: 12, max: 20 }),
  },
  admin: {
    email: string({ default: "", env: ["SHOP_ADMIN_EMAIL"] }),
    password: string({ default: "", env: ["SHOP_ADMIN_PASSWORD"], secret: true }),
  },
  discovery: discoveryConfigSchema(),
  /** `log.level`, and `log.ship.*`: the log store to ship lines to (`SHOP_LOG_SHIP_URL`), off by default. */
  log: logConfigSchema(),
};
