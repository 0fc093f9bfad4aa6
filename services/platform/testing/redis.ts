/**
 * The shared Redis of a test run, and a key prefix of its own for each suite.
 *
 * @module
 */
import { sharedServerUrl } from "./test_servers.ts";

/** The shared Redis of a test run. */
export interface RedisForTests {
  /** The server's URL, e.g. `redis://127.0.0.1:41234`. */
  readonly url: string;
  /** A fresh key prefix for one suite or test, such as `test:cart-1f0c...:`. */
  prefix(label?: string): string;
}

/**
 * The shared Redis of the test run: `SHOP_TEST_REDIS_URL` when set, else a throwaway Redis this process
 * starts on a free port the first time it is asked for. Suites keep apart by key prefix; the server
 * keeps nothing on disk and is thrown away with the run.
 *
 * @example
 * ```ts ignore
 * import { redisForTests } from "@shop/platform/testing";
 *
 * const redis = await redisForTests();
 * const prefix = redis.prefix("cart"); // every key the suite writes starts with it
 * ```
 */
export async function redisForTests(): Promise<RedisForTests> {
  const url = await sharedServerUrl("redis");
  return { url, prefix: (label = "suite") => `test:${label}-${crypto.randomUUID()}:` };
}
