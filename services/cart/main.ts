/**
 * The cart service's composition root: the Redis store, its clients of the product and order services,
 * on the kit's service skeleton (`runService`).
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { createClient as createRedisClient } from "redis";
import { instrumentStore } from "@shop/platform/metrics";
import { runService } from "@shop/platform/service";
import { CartOrderService } from "@shop/proto/order";
import { ProductService } from "@shop/proto/product";
import { cartConfigSchema } from "./config.ts";
import { Carts } from "./domain/carts.ts";
import { RedisCartStore } from "./store/redis_cart_store.ts";
import { cartRoutes } from "./transport/cart_routes.ts";
import { catalogOverConnect, ordersOverConnect } from "./transport/dependencies.ts";

await runService({
  service: "cart",
  schema: cartConfigSchema,
  setup: async ({ config, log, metrics, onClose, transportTo }) => {
    // Calls fail at once (UNAVAILABLE) while Redis is away; the client reconnects on its own.
    const redis = createRedisClient({ url: config.redis.url, disableOfflineQueue: true });
    redis.on("error", (error) => log.warning("Redis: {error}", { error }));
    await redis.connect();
    onClose(async () => {
      redis.destroy();
      await Promise.resolve();
    });

    // Each dependency at a fixed address when one is configured, else every live instance found in etcd.
    const productTransport = transportTo("product", config.product.url);
    const orderTransport = transportTo("order", config.order.url);

    const carts = new Carts({
      // Timed per operation like the other services' stores; one pipelined connection, so a pool of 1.
      store: instrumentStore(new RedisCartStore(redis, { prefix: config.redis.keyPrefix }), {
        registry: metrics.registry,
        store: "redis",
        poolSize: 1,
      }),
      catalog: catalogOverConnect(createClient(ProductService, productTransport)),
      orders: ordersOverConnect(createClient(CartOrderService, orderTransport)),
    });
    return { routes: cartRoutes(carts) };
  },
});
