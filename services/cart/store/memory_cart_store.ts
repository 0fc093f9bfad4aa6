/**
 * A cart store in memory, for tests and the handler tests: the same rules as the Redis store (limits,
 * atomic writes, carts gone after their lifetime), one process only.
 *
 * @module
 */
import { CART_LIFETIME_MS, type CartLine, CHECKOUT_MEMORY_MS, type StoredCart } from "../domain/cart.ts";
import type { CartStore, CheckoutRecord, LineLimits, WriteOutcome } from "../domain/ports.ts";
import { decide } from "./line_rules.ts";

interface Entry {
  lines: Map<string, number>;
  updateTime: Date;
}

/**
 * Carts in a map, each with its last change; a cart older than its lifetime reads as empty.
 *
 * @example
 * ```ts
 * const store = new MemoryCartStore();
 * await store.add("u-1", { productId: "p-1", quantity: 1 }, { maxLines: 100, maxQuantity: 100 });
 * ```
 */
export class MemoryCartStore implements CartStore {
  readonly #carts = new Map<string, Entry>();
  /** `<customer>:<request id>` -> the checkout's lines and when it was recorded. */
  readonly #checkouts = new Map<string, { lines: CartLine[]; time: number }>();
  readonly #now: () => number;
  readonly #lifetimeMs: number;

  /** `now` and `lifetimeMs` let tests move time. */
  constructor(options: { now?: () => number; lifetimeMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#lifetimeMs = options.lifetimeMs ?? CART_LIFETIME_MS;
  }

  get(customerId: string): Promise<StoredCart> {
    const entry = this.#live(customerId);
    if (!entry) return Promise.resolve({ lines: [], updateTime: undefined });
    const lines = [...entry.lines].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      .map(([productId, quantity]) => ({ productId, quantity }));
    return Promise.resolve({ lines, updateTime: entry.updateTime });
  }

  add(customerId: string, line: CartLine, limits: LineLimits): Promise<WriteOutcome> {
    return Promise.resolve(this.#write(customerId, line, limits, "add"));
  }

  set(customerId: string, line: CartLine, limits: LineLimits): Promise<WriteOutcome> {
    return Promise.resolve(this.#write(customerId, line, limits, "set"));
  }

  clear(customerId: string, checkout?: CheckoutRecord): Promise<void> {
    this.#carts.delete(customerId);
    if (checkout) {
      this.#checkouts.set(`${customerId}:${checkout.requestId}`, {
        lines: structuredClone(checkout.lines),
        time: this.#now(),
      });
    }
    return Promise.resolve();
  }

  checkedOut(customerId: string, requestId: string): Promise<CartLine[] | undefined> {
    const found = this.#checkouts.get(`${customerId}:${requestId}`);
    if (!found || this.#now() - found.time >= CHECKOUT_MEMORY_MS) return Promise.resolve(undefined);
    return Promise.resolve(structuredClone(found.lines));
  }

  #live(customerId: string): Entry | undefined {
    const entry = this.#carts.get(customerId);
    if (entry && this.#now() - entry.updateTime.getTime() >= this.#lifetimeMs) {
      this.#carts.delete(customerId);
      return undefined;
    }
    return entry;
  }

  #write(customerId: string, line: CartLine, limits: LineLimits, mode: "add" | "set"): WriteOutcome {
    const entry = this.#live(customerId);
    const lines = entry?.lines ?? new Map<string, number>();
    const decision = decide(lines.get(line.productId), lines.size, line.quantity, limits, mode);
    if (decision.kind !== "write") return decision;
    if (decision.quantity === 0) lines.delete(line.productId);
    else lines.set(line.productId, decision.quantity);
    if (lines.size === 0) this.#carts.delete(customerId);
    else this.#carts.set(customerId, { lines, updateTime: new Date(this.#now()) });
    return { kind: "ok" };
  }
}
