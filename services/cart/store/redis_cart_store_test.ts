import assert from "node:assert/strict";
import { createClient } from "redis";
import { DomainError } from "@shop/platform/errors";
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

Deno.test("redis: a store whose Redis is away answers UNAVAILABLE at once", async () => {
  const redis = await redisForTests();
  const client = createClient({ url: redis.url, disableOfflineQueue: true });
  await client.connect();
  client.destroy();
  const store = new RedisCartStore(client, { prefix: redis.prefix("cart") });
  const limits = { maxLines: 100, maxQuantity: 100 };
  for (const call of [store.get("u-1"), store.add("u-1", { productId: "p-1", quantity: 1 }, limits)]) {
    await assert.rejects(call, (error) => error instanceof DomainError && error.kind === "unavailable");
  }
});
