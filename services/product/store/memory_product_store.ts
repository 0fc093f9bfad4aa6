import { skuTaken } from "../domain/errors.ts";
import type {
  CatalogChange,
  CreateOutcome,
  ProductStore,
  ReservationDecision,
  ReservationRecord,
  StockLevel,
  StockMove,
} from "../domain/ports.ts";
import type { CatalogFields, Product } from "../domain/product.ts";
import type { ReservationStatus } from "../domain/reservation.ts";

/** A catalog entry as kept: its stock lives in the stock log; `stock` is the stock before any move. */
type StoredProduct = Product;

/**
 * The product store in memory, for fast handler tests. Stores exactly what the MongoDB store does, with
 * the same unique keys (the same contract suite runs on both), so the domain's rules run unchanged over
 * it; being single-threaded, every operation is atomic here by construction.
 *
 * @example
 * ```ts
 * const store = new MemoryProductStore();
 * ```
 */
export class MemoryProductStore implements ProductStore {
  #products = new Map<string, StoredProduct>();
  #moves = new Map<string, StockMove>();
  /** opKey -> the move's key. */
  #opKeys = new Map<string, string>();
  #levels = new Map<string, StockLevel>();
  #reservations = new Map<string, ReservationRecord>();
  #decisions = new Map<string, ReservationDecision>();
  #changes = new Map<number, CatalogChange>();
  #catalogHead = 0;

  createProduct(product: Product): Promise<CreateOutcome> {
    const existing = this.#products.get(product.id);
    if (existing) return Promise.resolve({ created: false, product: this.#withLevel(existing) });
    if ([...this.#products.values()].some((p) => p.sku === product.sku)) {
      return Promise.reject(skuTaken(product.sku));
    }
    this.#products.set(product.id, structuredClone(product));
    return Promise.resolve({ created: true, product: structuredClone(product) });
  }

  findProduct(id: string): Promise<Product | undefined> {
    const product = this.#products.get(id);
    return Promise.resolve(product ? this.#withLevel(product) : undefined);
  }

  findProducts(ids: readonly string[]): Promise<Product[]> {
    return Promise.resolve(
      ids.flatMap((id) => {
        const product = this.#products.get(id);
        return product ? [this.#withLevel(product)] : [];
      }),
    );
  }

  allProducts(): Promise<Product[]> {
    return Promise.resolve([...this.#products.values()].map((product) => this.#withLevel(product)));
  }

  updateProduct(id: string, fields: Partial<CatalogFields>, now: Date): Promise<Product | undefined> {
    const product = this.#products.get(id);
    if (!product) return Promise.resolve(undefined);
    if (
      fields.sku !== undefined &&
      [...this.#products.values()].some((p) => p.sku === fields.sku && p.id !== id)
    ) {
      return Promise.reject(skuTaken(fields.sku));
    }
    const updated = { ...product, ...structuredClone(fields), updateTime: now };
    this.#products.set(id, updated);
    return Promise.resolve(this.#withLevel(updated));
  }

  deleteProduct(id: string): Promise<boolean> {
    this.#levels.delete(id);
    return Promise.resolve(this.#products.delete(id));
  }

  insertMove(move: StockMove): Promise<boolean> {
    const key = `${move.productId}:${move.seq}`;
    if (this.#moves.has(key) || this.#opKeys.has(move.opKey)) return Promise.resolve(false);
    this.#moves.set(key, structuredClone(move));
    this.#opKeys.set(move.opKey, key);
    return Promise.resolve(true);
  }

  findMove(productId: string, seq: number): Promise<StockMove | undefined> {
    const move = this.#moves.get(`${productId}:${seq}`);
    return Promise.resolve(move ? structuredClone(move) : undefined);
  }

  findMoveByOp(opKey: string): Promise<StockMove | undefined> {
    const key = this.#opKeys.get(opKey);
    const move = key === undefined ? undefined : this.#moves.get(key);
    return Promise.resolve(move ? structuredClone(move) : undefined);
  }

  stockLevel(productId: string): Promise<StockLevel | undefined> {
    const level = this.#levels.get(productId);
    const product = this.#products.get(productId);
    return Promise.resolve(
      level ? { ...level } : product ? { seq: 0, stock: product.stock } : undefined,
    );
  }

  saveStockLevel(productId: string, level: StockLevel): Promise<void> {
    this.#levels.set(productId, { ...level });
    return Promise.resolve();
  }

  stockLevels(productIds: readonly string[]): Promise<Map<string, StockLevel>> {
    const levels = new Map<string, StockLevel>();
    for (const id of productIds) {
      const level = this.#levels.get(id);
      if (level) levels.set(id, { ...level });
    }
    return Promise.resolve(levels);
  }

  insertCatalogChange(change: CatalogChange): Promise<boolean> {
    if (this.#changes.has(change.seq)) return Promise.resolve(false);
    this.#changes.set(change.seq, structuredClone(change));
    return Promise.resolve(true);
  }

  catalogChange(seq: number): Promise<CatalogChange | undefined> {
    const change = this.#changes.get(seq);
    return Promise.resolve(change ? structuredClone(change) : undefined);
  }

  catalogChangesFrom(seq: number): Promise<CatalogChange[]> {
    const changes: CatalogChange[] = [];
    for (let next = seq; this.#changes.has(next) && changes.length < 64; next++) {
      const change = this.#changes.get(next);
      if (change) changes.push(structuredClone(change));
    }
    return Promise.resolve(changes);
  }

  catalogHead(): Promise<number> {
    return Promise.resolve(this.#catalogHead);
  }

  saveCatalogHead(seq: number): Promise<void> {
    this.#catalogHead = Math.max(this.#catalogHead, seq);
    return Promise.resolve();
  }

  insertReservation(record: ReservationRecord): Promise<boolean> {
    if (this.#reservations.has(record.orderId)) return Promise.resolve(false);
    this.#reservations.set(record.orderId, structuredClone(record));
    return Promise.resolve(true);
  }

  findReservation(orderId: string): Promise<ReservationRecord | undefined> {
    const record = this.#reservations.get(orderId);
    return Promise.resolve(record ? structuredClone(record) : undefined);
  }

  saveReservationStatus(orderId: string, status: ReservationStatus, seq: number, time: Date): Promise<void> {
    const record = this.#reservations.get(orderId);
    if (record && record.statusSeq < seq) Object.assign(record, { status, statusSeq: seq, updateTime: time });
    return Promise.resolve();
  }

  openReservations(limit: number): Promise<ReservationRecord[]> {
    return Promise.resolve(
      [...this.#reservations.values()]
        .filter((record) => record.status === "pending" || record.status === "reserved")
        .slice(0, limit)
        .map((record) => structuredClone(record)),
    );
  }

  insertDecision(decision: ReservationDecision): Promise<boolean> {
    const key = `${decision.orderId}:${decision.seq}`;
    if (this.#decisions.has(key)) return Promise.resolve(false);
    this.#decisions.set(key, structuredClone(decision));
    return Promise.resolve(true);
  }

  latestDecision(orderId: string): Promise<ReservationDecision | undefined> {
    let top: ReservationDecision | undefined;
    for (let seq = 1; this.#decisions.has(`${orderId}:${seq}`); seq++) {
      top = this.#decisions.get(`${orderId}:${seq}`);
    }
    return Promise.resolve(top ? structuredClone(top) : undefined);
  }

  markDecisionDone(orderId: string, seq: number): Promise<void> {
    const decision = this.#decisions.get(`${orderId}:${seq}`);
    if (decision) decision.done = true;
    return Promise.resolve();
  }

  unfinishedDecisions(limit: number): Promise<ReservationDecision[]> {
    return Promise.resolve(
      [...this.#decisions.values()].filter((d) => !d.done).slice(0, limit).map((d) => structuredClone(d)),
    );
  }

  /** A copy of the product with its stock as the level shows it. */
  #withLevel(product: StoredProduct): Product {
    return { ...structuredClone(product), stock: this.#levels.get(product.id)?.stock ?? product.stock };
  }
}
