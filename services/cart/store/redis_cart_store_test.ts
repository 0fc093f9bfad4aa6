import { createClient } from "redis";
import { redisForTests } from "@shop/platform/testing";
import { RedisCartStore } from "./redis_cart_store.ts";
import { cartStoreContract } from "./cart_store_contract.ts";

cartStoreContract("redis", async (options) => {
  const redis = await redisForTests();
  const client = createClient({ url: redis.url });
  await client.connect();
  const prefix = redis.prefix("cart");
  return {
    store: new RedisCartStore(client, { prefix, ...options }),
    cleanup: async () => {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(keys);
      client.destroy();
    },
  };
});
