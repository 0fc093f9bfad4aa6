/**
 * The cart service's configuration schema (see the kit's README for how values are layered).
 *
 * @module
 */
import { modeField, serverConfigSchema, string, tlsConfigSchema, url } from "@shop/platform/config";
import { discoveryConfigSchema } from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";

const serviceUrl = () =>
  string({ default: "", pattern: /^(https:\/\/\S+)?$/, describe: "empty or an https:// URL" });

/** Every key of the cart service, with its default. */
export const cartConfigSchema = {
  mode: modeField(),
  server: serverConfigSchema({ port: 50056 }),
  tls: tlsConfigSchema(),
  /** The Redis that keeps the carts (`SHOP_CART_REDIS_URL`); a password in it is masked in the logs. */
  redis: {
    url: url({ schemes: ["redis", "rediss"], default: "redis://127.0.0.1:6379", secret: true }),
    /** Starts every key, so that one Redis may serve several shops (or test suites). */
    keyPrefix: string({ default: "shop:", pattern: /^[A-Za-z0-9:_-]*$/, describe: "letters, digits, : _ -" }),
  },
  /** A fixed address of the product service; empty (the default) finds its instances through discovery. */
  product: { url: serviceUrl() },
  /** A fixed address of the order service; empty (the default) finds its instances through discovery. */
  order: { url: serviceUrl() },
  discovery: discoveryConfigSchema(),
  /** `log.level`, and `log.ship.*`: the log store to ship lines to (`SHOP_LOG_SHIP_URL`), off by default. */
  log: logConfigSchema(),
};
