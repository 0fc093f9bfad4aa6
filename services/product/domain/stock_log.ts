/**
 * The stock rules: each product's stock is an append-only log of moves, and a move is appended only
 * where the store's unique keys let exactly one writer win. See the service README for why this cannot
 * oversell with any number of instances.
 *
 * @module
 */
import { stockContention } from "./errors.ts";
import { KeyedLock } from "./keyed_lock.ts";
import type { ProductStore, StockLevel, StockMove } from "./ports.ts";
import type { ReservedLine } from "./reservation.ts";

/** What taking a line's units found. */
export type TakeOutcome = "taken" | "closed" | "short";

/** What a writer decided from the head: nothing to do, read the log further, or append a move. */
type Step<T> =
  | { kind: "done"; result: T }
  | { kind: "stale" }
  | {
    kind: "append";
    move: Pick<StockMove, "kind" | "delta" | "opKey" | "time"> & { orderId?: string };
    result: T;
    /** Whether the operation happened already, when the insert was refused. */
    ifRefused?: () => Promise<{ result: T } | undefined>;
  };

/** Options of {@linkcode StockLog}. */
export interface StockLogOptions {
  /** How many times a move is tried against other writers before giving up (UNAVAILABLE). */
  maxAttempts?: number;
  /** Told each time a move lost a race to another writer and is tried again. */
  onConflict?: () => void;
}

/** The operation keys of one order's line: its take (or the tombstone that closed it) and its return. */
function opKeys(orderId: string, productId: string): { take: string; back: string } {
  return { take: `${orderId}:${productId}:take`, back: `${orderId}:${productId}:return` };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Random backoff that grows with the attempt, so that losers of a race do not collide again at once. */
function backoff(attempt: number): Promise<void> {
  return delay(Math.random() * Math.min(40, 2 + attempt * 2));
}

/**
 * The stock logs of every product, as one instance of the service sees and changes them.
 *
 * A move is the insert of `(productId, head + 1)` with a unique `opKey`: the insert succeeds only if
 * `head` was still the head, so every move is computed from the complete log before it, and each
 * operation happens at most once. An order's line has two operations: `take` (−q), or a 0-unit `close`
 * tombstone under the same key when the line is closed before anything was taken (so a late take can no
 * longer happen), and `return` (+q) after a take.
 *
 * Each instance remembers the head it last saw of each product and appends after it without reading
 * first: when it was right (the usual case, and always so when one instance moves a product), a move is
 * one insert; when another instance moved in between, the insert fails and the log is read forward from
 * the remembered head. Moves of one product queue up inside an instance, so only instances contend.
 *
 * The stock shown to readers is a cached level written after each move; {@linkcode refreshLevels}
 * repairs, within its period, a level that a late write of another instance put back.
 *
 * @example
 * ```ts
 * declare const store: ProductStore;
 * const stock = new StockLog(store);
 * await stock.set("p-1", 10, new Date());
 * ```
 */
export class StockLog {
  #store: ProductStore;
  #maxAttempts: number;
  #onConflict: (() => void) | undefined;
  #locks = new KeyedLock();
  /** The head each product's log had when this instance last looked (never ahead of the truth). */
  #heads = new Map<string, StockLevel>();
  /** Products this instance moved whose level is not yet known to show it: product -> seq. */
  #unconfirmed = new Map<string, number>();
  /** Level writes in flight, by product. */
  #levelWrites = new Map<string, Promise<void>>();

  /** Creates the rules over a store. */
  constructor(store: ProductStore, options: StockLogOptions = {}) {
    this.#store = store;
    this.#maxAttempts = options.maxAttempts ?? 80;
    this.#onConflict = options.onConflict;
  }

  /** Takes one line's units, unless it was taken or closed already, or the stock is short. */
  take(orderId: string, line: ReservedLine, now: Date): Promise<TakeOutcome> {
    const keys = opKeys(orderId, line.productId);
    return this.#appending<TakeOutcome>(line.productId, async (head) => {
      if (head.stock < line.quantity) {
        // Short at the head we know: unless this line was done already, or the head moved on.
        const [done, next] = await Promise.all([
          this.#store.findMoveByOp(keys.take),
          this.#store.findMove(line.productId, head.seq + 1),
        ]);
        if (done) return { kind: "done", result: done.kind === "take" ? "taken" : "closed" };
        return next ? { kind: "stale" } : { kind: "done", result: "short" };
      }
      return {
        kind: "append",
        move: { kind: "take", delta: -line.quantity, opKey: keys.take, orderId, time: now },
        result: "taken",
        ifRefused: async () => {
          const done = await this.#store.findMoveByOp(keys.take);
          return done ? { result: done.kind === "take" ? "taken" : "closed" } : undefined;
        },
      };
    });
  }

  /** Closes one line for good: returns its units if they were taken, else leaves a tombstone; once only. */
  close(orderId: string, line: ReservedLine, now: Date): Promise<void> {
    const keys = opKeys(orderId, line.productId);
    return this.#appending<void>(line.productId, async () => {
      const taken = await this.#store.findMoveByOp(keys.take);
      if (taken?.kind === "close") return { kind: "done", result: undefined };
      if (taken?.kind === "take") {
        return {
          kind: "append",
          move: { kind: "return", delta: line.quantity, opKey: keys.back, orderId, time: now },
          result: undefined,
          ifRefused: async () =>
            (await this.#store.findMoveByOp(keys.back)) ? { result: undefined } : undefined,
        };
      }
      // Nothing taken: the tombstone takes the take's key, so no take can follow it.
      return {
        kind: "append",
        move: { kind: "close", delta: 0, opKey: keys.take, orderId, time: now },
        result: undefined,
      };
    });
  }

  /** Sets the units available now; units held by reservations stay held. */
  async set(productId: string, stock: number, now: Date): Promise<void> {
    const opKey = `set:${crypto.randomUUID()}`;
    await this.#appending<void>(productId, (head) =>
      Promise.resolve({
        kind: "append",
        move: { kind: "set", delta: stock - head.stock, opKey, time: now },
        result: undefined,
      }));
    await this.levelsWritten([productId]);
  }

  /**
   * The stock level of a product as this instance last saw its log (after its own moves, or reading
   * forward past others'), or undefined; never ahead of the truth.
   *
   * @example
   * ```ts
   * declare const stock: StockLog;
   * const level = stock.known("p-1"); // { seq: 3, stock: 7 }, or undefined when never moved here
   * ```
   */
  known(productId: string): StockLevel | undefined {
    return this.#heads.get(productId);
  }

  /** Waits until the levels of these products show this instance's moves of them (or failed to). */
  async levelsWritten(productIds: readonly string[]): Promise<void> {
    await Promise.all(productIds.map((id) => this.#levelWrites.get(id)));
  }

  /**
   * Rewrites the levels of products this instance moved that do not show its last move (another
   * instance's late write put an older level back, or a write failed). Run it every few hundred ms.
   * Returns how many it rewrote.
   */
  async refreshLevels(): Promise<number> {
    let rewritten = 0;
    for (const [productId, seq] of [...this.#unconfirmed]) {
      const level = await this.#store.stockLevel(productId);
      if (level && level.seq >= seq) {
        if (this.#unconfirmed.get(productId) === seq) this.#unconfirmed.delete(productId);
        continue;
      }
      // Kept in the set: the next round checks that this write stayed.
      const known = this.#heads.get(productId) ?? level ?? { seq: 0, stock: 0 };
      await this.#store.saveStockLevel(productId, await this.#forward(productId, known));
      rewritten++;
    }
    return rewritten;
  }

  /**
   * Appends the move `plan` picks from the head, one writer of a product at a time in this instance.
   * A refused insert asks `ifRefused` whether the operation is done already; if not, the head moved, so
   * the log is read forward and the plan made again.
   */
  #appending<T>(productId: string, plan: (head: StockLevel) => Promise<Step<T>>): Promise<T> {
    return this.#locks.run(productId, async () => {
      for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
        const head = await this.#head(productId);
        const step = await plan(head);
        if (step.kind === "done") return step.result;
        if (step.kind === "stale") {
          this.#heads.set(productId, await this.#forward(productId, head));
          continue;
        }
        const stock = head.stock + step.move.delta;
        if (stock < 0) throw new Error(`a move would make the stock of ${productId} negative`);
        const move: StockMove = { productId, seq: head.seq + 1, stock, ...step.move };
        if (await this.#store.insertMove(move)) {
          this.#moved(move);
          return step.result;
        }
        const done = step.ifRefused ? await step.ifRefused() : undefined;
        if (done) return done.result;
        this.#onConflict?.();
        this.#heads.set(productId, await this.#forward(productId, head));
        if (attempt > 0) await backoff(attempt);
      }
      throw stockContention(productId);
    });
  }

  /** The head as this instance last saw it, or read: the level, then forward through the log. */
  async #head(productId: string): Promise<StockLevel> {
    const known = this.#heads.get(productId);
    if (known) return known;
    const level = await this.#store.stockLevel(productId) ?? { seq: 0, stock: 0 };
    const head = await this.#forward(productId, level);
    this.#heads.set(productId, head);
    return head;
  }

  /** The head of the log, read forward from a position known to exist, two positions at a time. */
  async #forward(productId: string, from: StockLevel): Promise<StockLevel> {
    let head = from;
    for (;;) {
      const [next, after] = await Promise.all([
        this.#store.findMove(productId, head.seq + 1),
        this.#store.findMove(productId, head.seq + 2),
      ]);
      if (!next) return head;
      head = { seq: next.seq, stock: next.stock };
      if (!after) return head;
      head = { seq: after.seq, stock: after.stock };
    }
  }

  /** Remembers a move of this instance and writes the level readers see, without holding the queue. */
  #moved(move: StockMove): void {
    const head = { seq: move.seq, stock: move.stock };
    this.#heads.set(move.productId, head);
    this.#unconfirmed.set(move.productId, move.seq);
    const previous = this.#levelWrites.get(move.productId) ?? Promise.resolve();
    // After the previous write of this product, so this instance never puts an older level back itself.
    const write = previous.then(() => this.#store.saveStockLevel(move.productId, head)).catch(() => {
      // A cache: refreshLevels() writes it again.
    });
    this.#levelWrites.set(move.productId, write);
    void write.then(() => {
      if (this.#levelWrites.get(move.productId) === write) this.#levelWrites.delete(move.productId);
    });
  }
}
