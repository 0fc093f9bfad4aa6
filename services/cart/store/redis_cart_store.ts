/**
 * The cart store on Redis: one hash per customer (`<prefix>cart:<customer id>`), a field per product
 * holding its quantity and `:updated` holding the last change (product ids never contain `:`). Every
 * write is one Lua script, so the limits are checked and the line written atomically (concurrent adds
 * to one line never lose units), and every write restarts the key's expiry (30 days). A checkout that
 * emptied the cart leaves its lines in `<prefix>checkout:<customer id>:<request id>` (JSON, one day),
 * written with the cart's removal in one transaction.
 *
 * @module
 */
import type { createClient } from "redis";
import { DomainError } from "@shop/platform/errors";
import { CART_LIFETIME_MS, type CartLine, CHECKOUT_MEMORY_MS, type StoredCart } from "../domain/cart.ts";
import type { CartStore, CheckoutRecord, LineLimits, WriteOutcome } from "../domain/ports.ts";

/** A connected client of the `redis` package. */
export type RedisClient = ReturnType<typeof createClient>;

const UPDATED = ":updated";

// The decision of line_rules.ts `decide`, in Lua; then the write, the time stamp and the expiry.
const WRITE_LINE = `
local key, field = KEYS[1], ARGV[1]
local quantity, mode = tonumber(ARGV[2]), ARGV[3]
local max_lines, max_quantity = tonumber(ARGV[4]), tonumber(ARGV[5])
local current = tonumber(redis.call('HGET', key, field))
local next = quantity
if mode == 'add' then next = (current or 0) + quantity end
if current == nil and next > 0 then
  local lines = redis.call('HLEN', key) - redis.call('HEXISTS', key, '${UPDATED}')
  if lines >= max_lines then return {'too_many_lines', 0} end
end
if next > max_quantity then return {'line_too_large', current or 0} end
if next == 0 then
  redis.call('HDEL', key, field)
  if redis.call('HLEN', key) - redis.call('HEXISTS', key, '${UPDATED}') == 0 then
    redis.call('DEL', key)
    return {'ok', 0}
  end
else
  redis.call('HSET', key, field, next)
end
redis.call('HSET', key, '${UPDATED}', ARGV[6])
redis.call('PEXPIRE', key, ARGV[7])
return {'ok', 0}
`;

/** A Redis that cannot be reached (closed, reconnecting) is UNAVAILABLE to the caller, cause logged. */
async function unavailableOnFailure<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw new DomainError(
      "unavailable",
      "DEPENDENCY_UNAVAILABLE",
      "the cart store is unavailable; try again",
      {
        cause: error,
        retryAfterMs: 1_000,
      },
    );
  }
}

/**
 * Carts in Redis. Give it a client made with `disableOfflineQueue: true`, so that calls fail at once
 * while Redis is away instead of waiting for it past the caller's deadline.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * const client = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const store = new RedisCartStore(client, { prefix: "shop:" });
 * ```
 */
export class RedisCartStore implements CartStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #lifetimeMs: number;

  /** `prefix` starts every key (one per test suite); `lifetimeMs` is the carts' expiry (30 days). */
  constructor(client: RedisClient, options: { prefix?: string; lifetimeMs?: number } = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? "";
    this.#lifetimeMs = options.lifetimeMs ?? CART_LIFETIME_MS;
  }

  async get(customerId: string): Promise<StoredCart> {
    const hash = await unavailableOnFailure(this.#client.hGetAll(this.#key(customerId)));
    let updateTime: Date | undefined;
    const lines: CartLine[] = [];
    for (const [field, value] of Object.entries(hash)) {
      if (field === UPDATED) updateTime = new Date(Number(value));
      else lines.push({ productId: field, quantity: Number(value) });
    }
    lines.sort((a, b) => a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0);
    return { lines, updateTime: lines.length > 0 ? updateTime : undefined };
  }

  add(customerId: string, line: CartLine, limits: LineLimits): Promise<WriteOutcome> {
    return this.#write(customerId, line, limits, "add");
  }

  set(customerId: string, line: CartLine, limits: LineLimits): Promise<WriteOutcome> {
    return this.#write(customerId, line, limits, "set");
  }

  async clear(customerId: string, checkout?: CheckoutRecord): Promise<void> {
    if (!checkout) {
      await unavailableOnFailure(this.#client.del(this.#key(customerId)));
      return;
    }
    const lines = checkout.lines.map((line) => ({ productId: line.productId, quantity: line.quantity }));
    await unavailableOnFailure(
      this.#client.multi()
        .del(this.#key(customerId))
        .set(this.#checkoutKey(customerId, checkout.requestId), JSON.stringify(lines), {
          expiration: { type: "PX", value: CHECKOUT_MEMORY_MS },
        })
        .exec(),
    );
  }

  async checkedOut(customerId: string, requestId: string): Promise<CartLine[] | undefined> {
    const text = await unavailableOnFailure(this.#client.get(this.#checkoutKey(customerId, requestId)));
    if (typeof text !== "string") return undefined;
    const lines: unknown = JSON.parse(text);
    return Array.isArray(lines)
      ? lines.map((line: { productId: unknown; quantity: unknown }) => ({
        productId: String(line.productId),
        quantity: Number(line.quantity),
      }))
      : undefined;
  }

  #checkoutKey(customerId: string, requestId: string): string {
    return `${this.#prefix}checkout:${customerId}:${requestId}`;
  }

  #key(customerId: string): string {
    return `${this.#prefix}cart:${customerId}`;
  }

  async #write(
    customerId: string,
    line: CartLine,
    limits: LineLimits,
    mode: "add" | "set",
  ): Promise<WriteOutcome> {
    const reply = await unavailableOnFailure(this.#client.eval(WRITE_LINE, {
      keys: [this.#key(customerId)],
      arguments: [
        line.productId,
        String(line.quantity),
        mode,
        String(limits.maxLines),
        String(limits.maxQuantity),
        String(Date.now()),
        String(this.#lifetimeMs),
      ],
    }));
    const [kind, current] = Array.isArray(reply) ? reply : [];
    if (kind === "too_many_lines") return { kind };
    if (kind === "line_too_large") return { kind, current: Number(current) };
    if (kind === "ok") return { kind };
    throw new Error(`the cart script answered ${JSON.stringify(reply)}`);
  }
}
