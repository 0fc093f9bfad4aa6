/**
 * What the deployment checks (containers/compose_test.ts for compose, deploy/helm/shop/chart_test.ts for
 * the Helm chart) share: the environment variables a config schema reads, and the pinned tool versions.
 *
 * @module
 */
import type { Schema } from "@shop/platform/config";
import { userConfigSchema } from "../services/user/config.ts";
import { productConfigSchema } from "../services/product/config.ts";
import { orderConfigSchema } from "../services/order/config.ts";
import { paymentConfigSchema } from "../services/payment/config.ts";
import { notificationConfigSchema } from "../services/notification/config.ts";
import { cartConfigSchema } from "../services/cart/config.ts";
import { edgeConfigSchema } from "../services/edge/config.ts";
import { gatewayConfigSchema } from "../envoy/render_config.ts";

/**
 * Each Dockerfile target of a shop program: the config schema its environment must satisfy, and its
 * environment prefix.
 *
 * @example
 * ```ts
 * const program = shopPrograms.order; // { schema: orderConfigSchema, prefix: "SHOP_ORDER" }
 * ```
 */
export const shopPrograms: Readonly<Record<string, { schema: Schema; prefix: string }>> = {
  user: { schema: userConfigSchema, prefix: "SHOP_USER" },
  product: { schema: productConfigSchema, prefix: "SHOP_PRODUCT" },
  order: { schema: orderConfigSchema, prefix: "SHOP_ORDER" },
  payment: { schema: paymentConfigSchema, prefix: "SHOP_PAYMENT" },
  notification: { schema: notificationConfigSchema, prefix: "SHOP_NOTIFICATION" },
  cart: { schema: cartConfigSchema, prefix: "SHOP_CART" },
  edge: { schema: edgeConfigSchema, prefix: "SHOP_EDGE" },
  "gateway-config": { schema: gatewayConfigSchema, prefix: "SHOP_GATEWAY" },
};

/**
 * Every environment variable a schema reads, derived as the kit's loadConfig derives them (prefix + key
 * path in SCREAMING_SNAKE_CASE), and each field's aliases (`SHOP_ENV`, `SHOP_ETCD_ENDPOINTS`...).
 *
 * @example
 * ```ts
 * import { cartConfigSchema } from "../services/cart/config.ts";
 * envNamesOf(cartConfigSchema, "SHOP_CART").includes("SHOP_CART_REDIS_URL"); // true
 * ```
 */
export function envNamesOf(schema: Schema, prefix: string, path: string[] = []): string[] {
  return Object.entries(schema).flatMap(([name, node]) => {
    const keyPath = [...path, name];
    if (typeof (node as { parse?: unknown }).parse !== "function") {
      return envNamesOf(node as Schema, prefix, keyPath);
    }
    const derived = [prefix, ...keyPath.map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2"))]
      .join("_").toUpperCase();
    return [derived, ...(node as { env: readonly string[] }).env];
  });
}

/**
 * The pinned versions of scripts/lib/versions.env (`NAME=value` lines), by name.
 *
 * @example
 * ```ts ignore
 * const { HELM_VERSION } = await readVersions("/path/to/repo");
 * ```
 */
export async function readVersions(root: string): Promise<Record<string, string | undefined>> {
  return Object.fromEntries(
    (await Deno.readTextFile(`${root}/scripts/lib/versions.env`)).split("\n")
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2]]),
  );
}
