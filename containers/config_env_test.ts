import assert from "node:assert/strict";
import { cartConfigSchema } from "../services/cart/config.ts";
import { envNamesOf, readVersions } from "./config_env.ts";

Deno.test("envNamesOf names every variable the cart's config reads, aliases included", () => {
  const names = envNamesOf(cartConfigSchema, "SHOP_CART");
  for (
    const name of [
      "SHOP_CART_REDIS_URL",
      "SHOP_CART_SERVER_SHUTDOWN_GRACE",
      "SHOP_ENV",
      "SHOP_ETCD_ENDPOINTS",
    ]
  ) {
    assert.ok(names.includes(name), name);
  }
});

Deno.test("readVersions reads the pinned versions", async () => {
  const versions = await readVersions(new URL("..", import.meta.url).pathname);
  assert.match(versions.HELM_VERSION ?? "", /^\d+\.\d+\.\d+$/);
});
