import { KeyedLock } from "./keyed_lock.ts";
import { type Collection, type Db, type Filter, MongoServerError } from "mongodb";
import { skuTaken, stockContention } from "../domain/errors.ts";
import type {
  CreateOutcome,
  NewReservation,
  ProductCursor,
  ProductFilter,
  ProductPage,
  ProductStore,
  SweepReport,
} from "../domain/ports.ts";
import type { CatalogFields, Money, Product } from "../domain/product.ts";
import {
  holdsNoStock,
  type Reservation,
  type ReservationStatus,
  reservationTransitions,
  type ReservedLine,
} from "../domain/reservation.ts";

/** A catalog entry. Its stock lives in the stock log; `initialStock` is the stock before any move. */
interface ProductDoc {
  _id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  price: Money;
  initialStock: number;
  createTime: Date;
  updateTime: Date;
}

/**
 * One stock move of one product: `_id` is `<productId>:<seq>`, so of two writers that read the same head
 * and try the same next sequence, exactly one insert succeeds. `stock` is the stock after the move.
 * `opKey` is unique too: `<orderId>:<productId>:take` and `...:return` exist at most once each.
 */
interface MoveDoc {
  _id: string;
  productId: string;
  seq: number;
  stock: number;
  delta: number;
  kind: "set" | "take" | "return";
  opKey: string;
  orderId?: string;
  time: Date;
  /** False until `stock_levels` was seen to reflect this move (the sweeper repairs what stays false). */
  synced: boolean;
}

/** A cache of the head of a product's stock log, for reads. Written only by `#syncLevel`. */
interface LevelDoc {
  _id: string;
  stock: number;
  seq: number;
}

/** The immutable part of a reservation, plus a status hint for the sweeper's queries. */
interface ReservationDoc {
  _id: string;
  lines: ReservedLine[];
  /** A hint only (may lag): the decisions log is the truth. */
  status: ReservationStatus;
  statusSeq: number;
  expireTime: Date;
  createTime: Date;
  updateTime: Date;
}

/** One state change of a reservation: `_id` is `<orderId>:<seq>`, so one writer wins each step. */
interface DecisionDoc {
  _id: string;
  orderId: string;
  seq: number;
  status: ReservationStatus;
  shortProductIds: string[];
  time: Date;
  /** False until the stock of a no-stock state (failed, released, expired) is back; then true. */
  done: boolean;
}

interface ReservationState {
  seq: number;
  status: ReservationStatus;
  shortProductIds: string[];
  time: Date | undefined;
  done: boolean;
}

/** Options of {@linkcode MongoProductStore}. */
export interface MongoProductStoreOptions {
  /** How old unfinished work must be before the sweeper finishes it for a process presumed dead. */
  repairAfterMs?: number;
  /** How many times a stock move is retried against other writers before giving up (UNAVAILABLE). */
  maxMoveAttempts?: number;
  /** Told each time a stock move or reservation decision lost a race (a duplicate key) and is retried. */
  onConflict?: () => void;
}

const pendingStates: readonly ReservationStatus[] = ["pending", "reserved"];

/**
 * A unique index refused a write. MongoDB says so with code 11000; FerretDB 1.24 does for inserts, but
 * reports a unique violation in an update as a generic error carrying PostgreSQL's message.
 */
function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError &&
    (error.code === 11000 || /duplicate key value violates unique constraint/.test(error.message));
}

/**
 * Every value that goes into a query as a value goes through here: a string field must never reach the
 * driver as an object (`{"$ne": null}`), whatever a caller's types claim.
 */
function str(value: string): string {
  if (typeof value !== "string") throw new TypeError("expected a string query value");
  return value;
}

/** A regular expression that matches `text` literally. */
function literal(text: string): string {
  return str(text).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Random backoff that grows with the attempt, so that losers of a race do not collide again at once. */
function backoff(attempt: number): Promise<void> {
  return delay(Math.random() * Math.min(40, 2 + attempt * 2));
}

/**
 * The product store on the MongoDB wire protocol (MongoDB, or FerretDB 1.24 locally), using only what
 * both provide: single-document inserts and unique indexes are the only arbiters of concurrent writers
 * (FerretDB applies updates by read-modify-write without a transaction, so no compare-and-set update is
 * trusted). Each product's stock is a log of moves with unique `(productId, seq)`; each reservation's
 * state is a log of decisions with unique `(orderId, seq)`. See the service README for why this is
 * correct with any number of instances, and what happens when one dies half-way.
 *
 * @example
 * ```ts
 * import { MongoClient } from "mongodb";
 * const client = new MongoClient("mongodb://127.0.0.1:27017");
 * const store = new MongoProductStore(client.db("shop_product"));
 * await store.ensureIndexes();
 * ```
 */
export class MongoProductStore implements ProductStore {
  #products: Collection<ProductDoc>;
  #moves: Collection<MoveDoc>;
  #levels: Collection<LevelDoc>;
  #reservations: Collection<ReservationDoc>;
  #decisions: Collection<DecisionDoc>;
  #repairAfterMs: number;
  #onConflict: (() => void) | undefined;
  #maxMoveAttempts: number;
  #productLocks = new KeyedLock();

  /** Uses a database of a client the caller owns (and closes). */
  constructor(db: Db, options: MongoProductStoreOptions = {}) {
    // int64 values come back as bigint: prices are bigint minor units end to end.
    const bson = { useBigInt64: true };
    this.#products = db.collection<ProductDoc>("products", bson);
    this.#moves = db.collection<MoveDoc>("stock_moves", bson);
    this.#levels = db.collection<LevelDoc>("stock_levels", bson);
    this.#reservations = db.collection<ReservationDoc>("reservations", bson);
    this.#decisions = db.collection<DecisionDoc>("reservation_decisions", bson);
    this.#repairAfterMs = options.repairAfterMs ?? 30_000;
    this.#onConflict = options.onConflict;
    this.#maxMoveAttempts = options.maxMoveAttempts ?? 80;
  }

  /** Creates the indexes (idempotent; every instance runs it at start). */
  async ensureIndexes(): Promise<void> {
    await this.#products.createIndex({ sku: 1 }, { unique: true, name: "sku_unique" });
    await this.#products.createIndex({ createTime: 1, _id: 1 }, { name: "catalog_order" });
    await this.#products.createIndex({ category: 1, createTime: 1, _id: 1 }, { name: "category_order" });
    await this.#products.createIndex({ "price.amountMinor": 1 }, { name: "price" });
    await this.#moves.createIndex({ productId: 1, seq: -1 }, { name: "head" });
    await this.#moves.createIndex({ opKey: 1 }, { unique: true, name: "op_unique" });
    await this.#moves.createIndex({ synced: 1, time: 1 }, { name: "unsynced" });
    await this.#reservations.createIndex({ status: 1, expireTime: 1 }, { name: "due" });
    await this.#decisions.createIndex({ orderId: 1, seq: -1 }, { name: "state" });
    await this.#decisions.createIndex({ done: 1, time: 1 }, { name: "unfinished" });
  }

  // ---- catalog -------------------------------------------------------------------------------------

  async createProduct(product: Product): Promise<CreateOutcome> {
    const doc: ProductDoc = {
      _id: str(product.id),
      sku: product.sku,
      name: product.name,
      description: product.description,
      category: product.category,
      price: { currencyCode: product.price.currencyCode, amountMinor: product.price.amountMinor },
      initialStock: product.stock,
      createTime: product.createTime,
      updateTime: product.updateTime,
    };
    try {
      await this.#products.insertOne(doc);
      return { created: true, product: { ...product } };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const existing = await this.findProduct(product.id);
      if (existing) return { created: false, product: existing };
      throw skuTaken(product.sku);
    }
  }

  async findProduct(id: string): Promise<Product | undefined> {
    const [doc, level] = await Promise.all([
      this.#products.findOne({ _id: str(id) }),
      this.#levels.findOne({ _id: str(id) }),
    ]);
    return doc ? toProduct(doc, level) : undefined;
  }

  async findProducts(ids: readonly string[]): Promise<Product[]> {
    // One equality lookup per id, in parallel, rather than `_id: {$in}`: FerretDB 1.24 answers `$in` by
    // reading the whole collection (bench: ~2.5 s at 20k documents), equality through the index. An
    // order names at most 50 products, usually one to three.
    const wanted = [...new Set(ids.map(str))];
    const [docs, levels] = await Promise.all([
      Promise.all(wanted.map((id) => this.#products.findOne({ _id: id }))),
      Promise.all(wanted.map((id) => this.#levels.findOne({ _id: id }))),
    ]);
    return this.#withLevels(docs.filter((doc) => doc !== null), levels.filter((level) => level !== null));
  }

  async listProducts(
    filter: ProductFilter,
    pageSize: number,
    after: ProductCursor | undefined,
  ): Promise<ProductPage> {
    const and: Filter<ProductDoc>[] = [];
    if (filter.category !== undefined) and.push({ category: str(filter.category) });
    if (filter.minPriceMinor !== undefined || filter.maxPriceMinor !== undefined) {
      const range: { $gte?: bigint; $lte?: bigint } = {};
      if (filter.minPriceMinor !== undefined) range.$gte = BigInt(filter.minPriceMinor);
      if (filter.maxPriceMinor !== undefined) range.$lte = BigInt(filter.maxPriceMinor);
      and.push({ "price.amountMinor": range });
    }
    for (const word of filter.words ?? []) {
      const pattern = literal(word);
      and.push({
        $or: [{ name: { $regex: pattern, $options: "i" } }, {
          description: { $regex: pattern, $options: "i" },
        }],
      });
    }
    if (after) {
      // Keyset: strictly after the last product of the previous page, in (createTime, _id) order.
      and.push({
        $or: [{ createTime: { $gt: after.createTime } }, {
          createTime: after.createTime,
          _id: { $gt: str(after.id) },
        }],
      });
    }
    const docs = await this.#products
      .find(and.length > 0 ? { $and: and } : {})
      .sort({ createTime: 1, _id: 1 })
      .limit(pageSize + 1)
      .toArray();
    const page = docs.slice(0, pageSize);
    const levels = await this.#levels.find({ _id: { $in: page.map((doc) => doc._id) } }).toArray();
    const products = this.#withLevels(page, levels);
    const last = products[products.length - 1];
    return {
      products,
      next: docs.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    };
  }

  async updateProduct(id: string, fields: Partial<CatalogFields>, now: Date): Promise<Product | undefined> {
    const set: Partial<ProductDoc> = { updateTime: now };
    if (fields.sku !== undefined) set.sku = str(fields.sku);
    if (fields.name !== undefined) set.name = str(fields.name);
    if (fields.description !== undefined) set.description = str(fields.description);
    if (fields.category !== undefined) set.category = str(fields.category);
    if (fields.price !== undefined) {
      set.price = {
        currencyCode: str(fields.price.currencyCode),
        amountMinor: BigInt(fields.price.amountMinor),
      };
    }
    try {
      const result = await this.#products.updateOne({ _id: str(id) }, { $set: set });
      if (result.matchedCount === 0) return undefined;
    } catch (error) {
      if (isDuplicateKey(error) && fields.sku !== undefined) throw skuTaken(fields.sku);
      throw error;
    }
    return await this.findProduct(id);
  }

  async setStock(id: string, stock: number, now: Date): Promise<Product | undefined> {
    if (!await this.#products.findOne({ _id: str(id) }, { projection: { _id: 1 } })) return undefined;
    const opKey = `set:${crypto.randomUUID()}`;
    await this.#append(
      id,
      now,
      [],
      (head) => ({ move: { kind: "set", delta: stock - head.stock, opKey }, result: undefined }),
    );
    await this.#products.updateOne({ _id: str(id) }, { $set: { updateTime: now } });
    return await this.findProduct(id);
  }

  async deleteProduct(id: string): Promise<boolean> {
    const result = await this.#products.deleteOne({ _id: str(id) });
    // The stock log stays as history; a release of an old reservation may still append to it, harmlessly.
    await this.#levels.deleteOne({ _id: str(id) });
    return result.deletedCount > 0;
  }

  // ---- reservations --------------------------------------------------------------------------------

  async findReservation(orderId: string): Promise<Reservation | undefined> {
    const doc = await this.#reservations.findOne({ _id: str(orderId) });
    return doc ? toReservation(doc, await this.#state(orderId)) : undefined;
  }

  async reserve(request: NewReservation): Promise<Reservation> {
    let doc: ReservationDoc = {
      _id: str(request.orderId),
      lines: request.lines.map((line) => ({ ...line, unitPrice: { ...line.unitPrice } })),
      status: "pending",
      statusSeq: 0,
      expireTime: request.expireTime,
      createTime: request.now,
      updateTime: request.now,
    };
    try {
      await this.#reservations.insertOne(doc);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // Placed before (a retry, or a concurrent duplicate): carry on with that one.
      const existing = await this.#reservations.findOne({ _id: str(request.orderId) });
      if (!existing) throw error;
      doc = existing;
    }
    let state = await this.#state(doc._id);
    // A pending one is driven again: every step is idempotent, so two drivers cannot double-take.
    if (state.status === "pending") state = await this.#drive(doc, request.now);
    else await this.#finish(doc, state);
    return toReservation(doc, state);
  }

  async commit(orderId: string, now: Date): Promise<Reservation | undefined> {
    const doc = await this.#reservations.findOne({ _id: str(orderId) });
    if (!doc) return undefined;
    const { state } = await this.#transition(
      orderId,
      now,
      (s) => s.status === "reserved" ? "committed" : undefined,
    );
    await this.#finish(doc, state);
    return toReservation(doc, state);
  }

  async release(orderId: string, now: Date): Promise<Reservation | undefined> {
    const doc = await this.#reservations.findOne({ _id: str(orderId) });
    if (!doc) return undefined;
    const { state } = await this.#transition(
      orderId,
      now,
      (s) =>
        s.status === "pending" || s.status === "reserved" || s.status === "committed"
          ? "released"
          : undefined,
    );
    await this.#finish(doc, state);
    return toReservation(doc, state);
  }

  async sweep(now: Date): Promise<SweepReport> {
    let expired = 0;
    let repaired = 0;
    const due = await this.#reservations
      .find({ status: { $in: [...pendingStates] }, expireTime: { $lte: now } })
      .limit(100)
      .toArray();
    for (const doc of due) {
      const { state, moved } = await this.#transition(
        doc._id,
        now,
        (s) => pendingStates.includes(s.status) ? "expired" : undefined,
      );
      if (moved) expired++;
      await this.#finish(doc, state);
    }
    // Decisions whose stock never came back: the process that made them died before finishing.
    const cutoff = new Date(now.getTime() - this.#repairAfterMs);
    const unfinished = await this.#decisions.find({ done: false, time: { $lte: cutoff } }).limit(100)
      .toArray();
    for (const decision of unfinished) {
      const doc = await this.#reservations.findOne({ _id: decision.orderId });
      if (doc) await this.#finish(doc, await this.#state(decision.orderId));
      repaired++;
    }
    // Moves the stock-level cache may not show: the process that made them died before syncing.
    const unsynced = await this.#moves.find({ synced: false, time: { $lte: cutoff } }).limit(100).toArray();
    for (const productId of new Set(unsynced.map((move) => move.productId))) {
      await this.#syncLevel(productId);
      repaired++;
    }
    return { expired, repaired };
  }

  // ---- the reservation state machine ---------------------------------------------------------------

  /** Takes every line (or finds them short), then decides reserved or failed, then finishes. */
  async #drive(doc: ReservationDoc, now: Date): Promise<ReservationState> {
    const short: string[] = [];
    let closed = false;
    for (const line of [...doc.lines].sort((a, b) => a.productId < b.productId ? -1 : 1)) {
      if (short.length > 0) {
        // Already failing: only find out which other lines are short too, taking nothing more.
        if ((await this.#head(line.productId)).stock < line.quantity) short.push(line.productId);
        continue;
      }
      const outcome = await this.#take(doc._id, line, now);
      if (outcome === "short") short.push(line.productId);
      if (outcome === "closed") {
        closed = true;
        break;
      }
    }
    const state = closed ? await this.#state(doc._id) : (await this.#transition(
      doc._id,
      now,
      (s) => s.status === "pending" ? (short.length > 0 ? "failed" : "reserved") : undefined,
      short,
    )).state;
    await this.#finish(doc, state);
    return state;
  }

  /** The latest decision about an order's reservation (`pending` before the first). */
  async #state(orderId: string): Promise<ReservationState> {
    const [top] = await this.#decisions.find({ orderId: str(orderId) }).sort({ seq: -1 }).limit(1).toArray();
    return top
      ? {
        seq: top.seq,
        status: top.status,
        shortProductIds: top.shortProductIds,
        time: top.time,
        done: top.done,
      }
      : { seq: 0, status: "pending", shortProductIds: [], time: undefined, done: true };
  }

  /**
   * Moves a reservation to the state `choose` picks from the current one, by inserting the next
   * decision; a duplicate `_id` means another writer decided first, so the choice is made again.
   */
  async #transition(
    orderId: string,
    now: Date,
    choose: (state: ReservationState) => ReservationStatus | undefined,
    shortProductIds: string[] = [],
  ): Promise<{ state: ReservationState; moved: boolean }> {
    for (let attempt = 0; attempt < this.#maxMoveAttempts; attempt++) {
      const state = await this.#state(orderId);
      const next = choose(state);
      if (!next || !reservationTransitions[state.status].includes(next)) return { state, moved: false };
      const decision: DecisionDoc = {
        _id: `${str(orderId)}:${state.seq + 1}`,
        orderId,
        seq: state.seq + 1,
        status: next,
        shortProductIds: next === "failed" ? shortProductIds : [],
        time: now,
        done: !holdsNoStock(next),
      };
      try {
        await this.#decisions.insertOne(decision);
        return {
          state: {
            seq: decision.seq,
            status: next,
            shortProductIds: decision.shortProductIds,
            time: now,
            done: decision.done,
          },
          moved: true,
        };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        this.#onConflict?.();
        await backoff(attempt);
      }
    }
    throw stockContention(orderId);
  }

  /** Makes the stock match the state (gives every line back for a no-stock state) and updates hints. */
  async #finish(doc: ReservationDoc, state: ReservationState): Promise<void> {
    if (!state.done) {
      const now = state.time ?? new Date();
      for (const line of doc.lines) await this.#giveBack(doc._id, line, now);
      await this.#decisions.updateOne({ _id: `${doc._id}:${state.seq}` }, { $set: { done: true } });
      state.done = true;
    }
    if (state.seq > doc.statusSeq) {
      // A hint for the sweeper's query; a lost or late write only makes the sweeper look again.
      await this.#reservations.updateOne(
        { _id: doc._id, statusSeq: { $lt: state.seq } },
        { $set: { status: state.status, statusSeq: state.seq, updateTime: state.time ?? doc.updateTime } },
      );
    }
  }

  // ---- the stock log ---------------------------------------------------------------------------------

  /** Takes one line's units unless it was taken or closed already, or the stock is short. */
  #take(orderId: string, line: ReservedLine, now: Date): Promise<"taken" | "closed" | "short"> {
    const take = `${orderId}:${line.productId}:take`;
    const back = `${orderId}:${line.productId}:return`;
    return this.#append(line.productId, now, [take, back], (head, seen) => {
      // A return (or its tombstone) closes the line for good: no take may follow it.
      if (seen.has(back)) return { result: "closed" as const };
      if (seen.has(take)) return { result: "taken" as const };
      if (head.stock < line.quantity) return { result: "short" as const };
      return {
        move: { kind: "take", delta: -line.quantity, opKey: take, orderId },
        result: "taken" as const,
      };
    });
  }

  /** Closes one line: returns its units if they were taken, else leaves a tombstone; once only. */
  async #giveBack(orderId: string, line: ReservedLine, now: Date): Promise<void> {
    const take = `${orderId}:${line.productId}:take`;
    const back = `${orderId}:${line.productId}:return`;
    await this.#append(line.productId, now, [take, back], (_head, seen) => {
      if (seen.has(back)) return { result: undefined };
      const delta = seen.has(take) ? line.quantity : 0;
      return { move: { kind: "return", delta, opKey: back, orderId }, result: undefined };
    });
  }

  /**
   * Which of these operations are in the stock log already. One lookup by `opKey` per key, side by side,
   * not one `{opKey: {$in: keys}}`: FerretDB 1.24 hands only equality filters to PostgreSQL (and its
   * index), and answers `$in` by reading the whole collection, so every move got slower with every move
   * ever made (`deno task bench`, scenario 5b: with 20k past moves in the store, every checkout failed
   * at the saga budget; with this, all were PAID, p50 2.6 s).
   */
  async #movesDone(opKeys: string[]): Promise<Set<string>> {
    const found = await Promise.all(
      opKeys.map((opKey) => this.#moves.findOne({ opKey: str(opKey) }, { projection: { opKey: 1 } })),
    );
    return new Set(found.flatMap((move) => (move ? [move.opKey] : [])));
  }

  /** The last move of a product's log (sequence 0 with the initial stock before any move). */
  async #head(productId: string): Promise<{ seq: number; stock: number }> {
    const [top] = await this.#moves.find({ productId: str(productId) }, { projection: { seq: 1, stock: 1 } })
      .sort({ seq: -1 }).limit(1).toArray();
    if (top) return { seq: top.seq, stock: top.stock };
    const product = await this.#products.findOne({ _id: str(productId) }, {
      projection: { initialStock: 1 },
    });
    return { seq: 0, stock: product?.initialStock ?? 0 };
  }

  /**
   * Appends the move `plan` picks from the product's current head and the order's moves seen so far.
   * The head is read first and the order's moves after it, so every move up to the head is visible to
   * the plan; the insert of `head + 1` succeeds only if nobody appended since. A duplicate key (the
   * sequence, or the operation already done) sends it round again, after a random backoff.
   */
  #append<T>(
    productId: string,
    now: Date,
    opKeys: string[],
    plan: (
      head: { seq: number; stock: number },
      seen: Set<string>,
    ) => { move?: Pick<MoveDoc, "kind" | "delta" | "opKey"> & { orderId?: string }; result: T },
  ): Promise<T> {
    // Moves of one product queue up inside this instance; the unique insert below still decides
    // between instances.
    return this.#productLocks.run(productId, () => this.#appendNow(productId, now, opKeys, plan));
  }

  async #appendNow<T>(
    productId: string,
    now: Date,
    opKeys: string[],
    plan: (
      head: { seq: number; stock: number },
      seen: Set<string>,
    ) => { move?: Pick<MoveDoc, "kind" | "delta" | "opKey"> & { orderId?: string }; result: T },
  ): Promise<T> {
    for (let attempt = 0; attempt < this.#maxMoveAttempts; attempt++) {
      const head = await this.#head(productId);
      const seen = await this.#movesDone(opKeys);
      const { move, result } = plan(head, seen);
      if (!move) return result;
      const stock = head.stock + move.delta;
      if (stock < 0) throw new Error(`a move would make the stock of ${productId} negative`);
      try {
        await this.#moves.insertOne({
          _id: `${str(productId)}:${head.seq + 1}`,
          productId,
          seq: head.seq + 1,
          stock,
          ...move,
          time: now,
          synced: false,
        });
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        this.#onConflict?.();
        await backoff(attempt);
        continue;
      }
      await this.#syncLevel(productId);
      return result;
    }
    throw stockContention(productId);
  }

  /**
   * Copies the head of the log into the `stock_levels` cache and checks it stayed there: a slower
   * writer may overwrite a newer level with an older one, but every writer checks after its own write,
   * so the last one leaves the cache equal to the head. Under heavy contention the check keeps failing
   * because the head keeps moving; then it gives up after two rounds, leaving its moves unsynced: the
   * next writer's successful check marks them synced, and the sweeper repairs whatever nobody did.
   */
  async #syncLevel(productId: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const head = await this.#head(productId);
      try {
        await this.#levels.updateOne(
          { _id: str(productId) },
          { $set: { stock: head.stock, seq: head.seq } },
          { upsert: true },
        );
      } catch (error) {
        if (!isDuplicateKey(error)) throw error; // two first upserts raced; look again
        continue;
      }
      const [level, after] = await Promise.all([
        this.#levels.findOne({ _id: str(productId) }),
        this.#head(productId),
      ]);
      if (level && level.seq === after.seq) {
        await this.#moves.updateMany(
          { productId: str(productId), synced: false, seq: { $lte: after.seq } },
          { $set: { synced: true } },
        );
        return;
      }
    }
  }

  #withLevels(docs: ProductDoc[], levels: LevelDoc[]): Product[] {
    const byId = new Map(levels.map((level) => [level._id, level]));
    return docs.map((doc) => toProduct(doc, byId.get(doc._id) ?? null));
  }
}

function toProduct(doc: ProductDoc, level: LevelDoc | null): Product {
  return {
    id: doc._id,
    sku: doc.sku,
    name: doc.name,
    description: doc.description,
    category: doc.category,
    price: { currencyCode: doc.price.currencyCode, amountMinor: BigInt(doc.price.amountMinor) },
    stock: level?.stock ?? doc.initialStock,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}

function toReservation(doc: ReservationDoc, state: ReservationState): Reservation {
  return {
    orderId: doc._id,
    lines: doc.lines.map((line) => ({
      productId: line.productId,
      name: line.name,
      unitPrice: {
        currencyCode: line.unitPrice.currencyCode,
        amountMinor: BigInt(line.unitPrice.amountMinor),
      },
      quantity: line.quantity,
    })),
    status: state.status,
    shortProductIds: [...state.shortProductIds],
    expireTime: doc.expireTime,
    createTime: doc.createTime,
    updateTime: state.time ?? doc.createTime,
  };
}
