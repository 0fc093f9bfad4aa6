/**
 * The payment service's configuration schema (see the kit's README for how values are layered).
 *
 * @module
 */
import { discoveryConfigSchema } from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";
import { outboxConfigSchema } from "@shop/platform/outbox";
import {
  duration,
  modeField,
  postgresConfigSchema,
  serverConfigSchema,
  string,
  tlsConfigSchema,
  url,
} from "@shop/platform/config";

/**
 * DEV-ONLY Stripe credentials, used only when `mode` is `dev` and none are configured. They work against
 * the Stripe simulator (and stripe-mock, which accepts any `sk_test_` key made of letters and digits);
 * real Stripe refuses them.
 */
export const devStripe = {
  apiKey: "sk_test_devOnlyForTheStripeSimulator",
  webhookSecret: "whsec_dev_only_for_the_stripe_simulator",
} as const;

/** Every key of the payment service, with its default. */
export const paymentConfigSchema = {
  /** `dev` allows the documented dev defaults (the Stripe test key); `production` allows none. */
  mode: modeField(),
  server: serverConfigSchema({ port: 50054 }),
  tls: tlsConfigSchema(),
  database: postgresConfigSchema(),
  stripe: {
    /** A secret key (`sk_live_...`, `sk_test_...`, or a restricted `rk_...`). Required in production. */
    apiKey: string({
      default: "",
      secret: true,
      pattern: /^$|^(sk|rk)_(test|live)_\w+$/,
      describe: "a Stripe secret key such as sk_test_...",
    }),
    /** Real Stripe, or the simulator in dev and tests (`http://127.0.0.1:12112`). */
    baseUrl: url({ schemes: ["https", "http"], default: "https://api.stripe.com" }),
    /** The webhook endpoint's signing secret (`whsec_...`). Required in production. */
    webhookSecret: string({ default: "", secret: true }),
  },
  timeouts: {
    /** The longest one Stripe request may take. */
    stripeRequest: duration({ default: 10_000, min: 100, max: 80_000 }),
    /** The deadline of a call whose caller set none (Stripe retries stop within it). */
    call: duration({ default: 20_000, min: 500, max: 120_000 }),
    /** The first pause between retries of a Stripe call; it doubles up to `retryMaxDelay`. */
    retryBaseDelay: duration({ default: 100, min: 1, max: 10_000 }),
    retryMaxDelay: duration({ default: 2_000, min: 1, max: 60_000 }),
    /** How long applying one webhook event may take (it may list refunds at Stripe). */
    webhook: duration({ default: 10_000, min: 500, max: 60_000 }),
  },
  /** A fixed address of the order service; empty (the default) finds its instances through discovery. */
  order: {
    url: string({ default: "", pattern: /^(https:\/\/\S+)?$/, describe: "empty or an https:// URL" }),
  },
  /** The outbox that tells the order service how processing payments ended. */
  notices: outboxConfigSchema(),
  /** Charges left PENDING (a lost webhook) are settled by asking Stripe where they stand. */
  reconcile: {
    /** How often stale PENDING charges are looked for. */
    interval: duration({ default: 30_000, min: 100, max: 3_600_000 }),
    /** How long a charge stays PENDING before it counts as stale. */
    after: duration({ default: 60_000, min: 100, max: 7 * 24 * 3_600_000 }),
  },
  discovery: discoveryConfigSchema(),
  /** `log.level`, and `log.ship.*`: the log store to ship lines to (`SHOP_LOG_SHIP_URL`), off by default. */
  log: logConfigSchema(),
};

/**
 * The Stripe credentials to use: the configured ones, or in dev mode the documented dev-only defaults.
 * Production without them (or with the dev ones), or with a Stripe URL that is not https, is a start-up
 * error, returned as its message.
 *
 * @example
 * ```ts
 * stripeCredentials({ mode: "dev", stripe: { apiKey: "", webhookSecret: "" } }); // the dev-only pair
 * ```
 */
export function stripeCredentials(
  config: { mode: "dev" | "production"; stripe: { apiKey: string; webhookSecret: string; baseUrl?: string } },
): { apiKey: string; webhookSecret: string } | string {
  if (config.mode === "dev") {
    return {
      apiKey: config.stripe.apiKey || devStripe.apiKey,
      webhookSecret: config.stripe.webhookSecret || devStripe.webhookSecret,
    };
  }
  if (!config.stripe.apiKey || config.stripe.apiKey === devStripe.apiKey) {
    return "config: stripe.apiKey: required in production (SHOP_PAYMENT_STRIPE_API_KEY), and not the dev-only key";
  }
  if (!config.stripe.webhookSecret || config.stripe.webhookSecret === devStripe.webhookSecret) {
    return "config: stripe.webhookSecret: required in production (SHOP_PAYMENT_STRIPE_WEBHOOK_SECRET), and not the dev-only secret";
  }
  // Card payments and the secret key never travel in clear text; the http:// simulator is dev-only.
  if (config.stripe.baseUrl !== undefined && !config.stripe.baseUrl.startsWith("https://")) {
    return "config: stripe.baseUrl: must be an https:// URL in production (http:// is for the dev Stripe simulator)";
  }
  return { apiKey: config.stripe.apiKey, webhookSecret: config.stripe.webhookSecret };
}
