/**
 * DEV/TEST TOOL: runs the Stripe test-mode simulator as its own process, in front of stripe-mock, for
 * `deno task dev`. Never part of a production deployment.
 *
 * ```sh
 * SHOP_STRIPE_SIMULATOR_UPSTREAM_URL=http://127.0.0.1:12111 \
 * SHOP_STRIPE_SIMULATOR_WEBHOOK_URL=https://127.0.0.1:50054/v1/webhooks/stripe \
 * SHOP_STRIPE_SIMULATOR_WEBHOOK_CERTS_DIR=certs/dev \
 *   deno run -A services/payment/stripe_simulator/main.ts
 * ```
 *
 * @module
 */
import { type ConfigOf, duration, loadConfigOrExit, string, tcpPort, url } from "@shop/platform/config";
import { serviceLogger, setupLogging } from "@shop/platform/log";
import { readTlsFiles } from "@shop/platform/tls";
import { devStripe } from "../config.ts";
import { startStripeSimulator, type WebhookTarget } from "./simulator.ts";

/**
 * The simulator's configuration (env prefix `SHOP_STRIPE_SIMULATOR`).
 *
 * @example
 * ```ts ignore
 * const config = loadConfigOrExit(stripeSimulatorConfigSchema, { envPrefix: "SHOP_STRIPE_SIMULATOR" });
 * ```
 */
export const stripeSimulatorConfigSchema = {
  server: { host: string({ default: "127.0.0.1" }), port: tcpPort({ default: 12112 }) },
  upstream: { url: url({ schemes: ["http", "https"], default: "http://127.0.0.1:12111" }) },
  /** How long `pm_card_processing_succeeds` / `_fails` payments take to settle (then a webhook says how). */
  processing: { delay: duration({ default: 3_000, min: 0, max: 600_000 }) },
  webhook: {
    /** Where events go; none are sent when empty. */
    url: string({ default: "" }),
    secret: string({ default: devStripe.webhookSecret, secret: true }),
    /** When set, events are sent with this client certificate (the payment service wants mTLS). */
    certsDir: string({ default: "" }),
    identity: string({ default: "client" }),
  },
};

/** A simulator started by {@linkcode runStripeSimulator}. */
export interface RunningSimulator {
  /** `http://HOST:PORT`. */
  readonly url: string;
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Serves the simulator as configured, without the process around it (logging, signals): for this
 * program and for the dev stack's plumbing process (`stack/plumbing.ts`).
 *
 * @example
 * ```ts ignore
 * const simulator = await runStripeSimulator(loadConfigOrExit(stripeSimulatorConfigSchema, {}));
 * await simulator.close();
 * ```
 */
export async function runStripeSimulator(
  config: ConfigOf<typeof stripeSimulatorConfigSchema>,
): Promise<RunningSimulator> {
  let webhook: WebhookTarget | undefined;
  if (config.webhook.url) {
    const tls = config.webhook.certsDir
      ? await readTlsFiles(config.webhook.certsDir, config.webhook.identity)
      : undefined;
    webhook = {
      url: config.webhook.url,
      secret: config.webhook.secret,
      ...(tls ? { client: Deno.createHttpClient({ caCerts: [tls.ca], cert: tls.cert, key: tls.key }) } : {}),
    };
  }
  const simulator = await startStripeSimulator({
    upstream: config.upstream.url,
    port: config.server.port,
    hostname: config.server.host,
    processingDelayMs: config.processing.delay,
    ...(webhook ? { webhook } : {}),
  });
  serviceLogger("main").info("Serving stripe-simulator (DEV/TEST ONLY) on {url}", {
    url: simulator.url,
    upstream: config.upstream.url,
  });
  return {
    url: simulator.url,
    async close() {
      await simulator.close();
      webhook?.client?.close();
    },
  };
}

if (import.meta.main) {
  const config = loadConfigOrExit(stripeSimulatorConfigSchema, {
    envPrefix: "SHOP_STRIPE_SIMULATOR",
    args: Deno.args,
  });
  await setupLogging({ service: "stripe-simulator", instance: "stripe-simulator", level: "info" });
  const simulator = await runStripeSimulator(config);
  const stop = async () => {
    await simulator.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
