/**
 * The notification service's configuration schema (see the kit's README for how values are layered).
 *
 * @module
 */
import {
  duration,
  modeField,
  postgresConfigSchema,
  serverConfigSchema,
  string,
  tlsConfigSchema,
  url,
} from "@shop/platform/config";
import { discoveryConfigSchema } from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";

/** Every key of the notification service, with its default. */
export const notificationConfigSchema = {
  mode: modeField(),
  server: serverConfigSchema({ port: 50055 }),
  tls: tlsConfigSchema(),
  database: postgresConfigSchema(),
  smtp: {
    /**
     * The mail server: `smtp://[user:password@]host:port` (STARTTLS whenever offered, required with
     * credentials) or `smtps://` (TLS from the start). Plain `smtp://127.0.0.1:1025` is Mailpit in dev.
     */
    url: url({ schemes: ["smtp", "smtps"], default: "smtp://127.0.0.1:1025", secret: true }),
    /** A PEM file of more CAs to trust for the mail server's certificate (the system's roots always). */
    caFile: string({ default: "" }),
    /** The sender of every email. */
    from: string({
      default: "orders@shop.local",
      pattern: /^[^@\s]+@[^@\s]+$/,
      describe: "an email address",
    }),
    /** How long one send may take. */
    timeout: duration({ default: 10_000, min: 100, max: 120_000 }),
  },
  /** A fixed address of the user service; empty (the default) finds its instances through discovery. */
  user: {
    url: string({ default: "", pattern: /^(https:\/\/\S+)?$/, describe: "empty or an https:// URL" }),
  },
  emails: {
    /**
     * How long a delivery holds an event's email before another may take it: longer than a send. A
     * sender that died while holding it delays that email by at most this long.
     */
    hold: duration({ default: 60_000, min: 100, max: 3_600_000 }),
    /** How long the record of a sent email is kept (a repeat of its event after that would send again). */
    keep: duration({ default: 30 * 24 * 3_600_000, min: 60_000 }),
    /** How often old records are purged. */
    purgeInterval: duration({ default: 3_600_000, min: 100 }),
  },
  /**
   * TEST ONLY, off by default: kill this process with SIGKILL once the mail server has taken a message,
   * before it is recorded sent, so crash tests can check that no second email follows.
   */
  faults: {
    crashAfterSending: string({ default: "", pattern: /^(|true)$/, describe: "empty or true" }),
  },
  discovery: discoveryConfigSchema(),
  /** `log.level`, and `log.ship.*`: the log store to ship lines to (`SHOP_LOG_SHIP_URL`), off by default. */
  log: logConfigSchema(),
};

/**
 * What production refuses of a notification configuration: the TEST ONLY crash switch. Returns the
 * start-up error's message, or undefined when the configuration may run.
 *
 * @example
 * ```ts
 * productionRefusal({ mode: "production", faults: { crashAfterSending: "true" } }); // "config: faults..."
 * ```
 */
export function productionRefusal(
  config: { mode: "dev" | "production"; faults: { crashAfterSending: string } },
): string | undefined {
  if (config.mode === "production" && config.faults.crashAfterSending) {
    return "config: faults.crashAfterSending: a TEST ONLY switch that kills the process after an email is sent; refused in production";
  }
  return undefined;
}
