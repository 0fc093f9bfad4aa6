/**
 * What the catalog and inventory rules need from storage, owned here so that adapters depend on the
 * domain and never the other way round.
 *
 * @module
 */
import type { CatalogFields, Product } from "./product.ts";
import type { ReservationStatus, ReservedLine } from "./reservation.ts";

/** A position in the catalog order (creation time, then id): after this product. */
export interface ProductCursor {
  createTime: Date;
  id: string;
}

/**
 * One change of the catalog. Changes are numbered 1, 2, ... without gaps (each number is taken by one
 * insert), so every instance can apply all of them in order by looking up the next number.
 */
export interface CatalogChange {
  seq: number;
  productId: string;
  /**
   * The product after the change (its `stock` as of then: reads show the stock level, and this only
   * where a product has none), or undefined when it was deleted.
   */
  product: Product | undefined;
  time: Date;
}

/** What a list asks for; every part is optional. */
export interface ProductFilter {
  /** Only this category. */
  category?: string;
  /** Only unit prices of at least this many minor units. */
  minPriceMinor?: bigint;
  /** Only unit prices of at most this many minor units. */
  maxPriceMinor?: bigint;
  /** Every word must appear, in any case, in the name or the description (plain text, not a pattern). */
  words?: string[];
}

/** One page of products in catalog order. */
export interface ProductPage {
  products: Product[];
  /** Where the next page starts, or undefined on the last page. */
  next: ProductCursor | undefined;
}

/** What creating a product found. */
export type CreateOutcome =
  | { created: true; product: Product }
  /** A product with this id exists already (a retried create): it, unchanged. */
  | { created: false; product: Product };

/** A reservation to place: its lines are priced already. */
export interface NewReservation {
  orderId: string;
  lines: ReservedLine[];
  now: Date;
  expireTime: Date;
}

/** What one sweep did. */
export interface SweepReport {
  /** Reservations that expired in this sweep (their stock returned). */
  expired: number;
  /** Unfinished work of dead processes that this sweep completed (stock returns). */
  repaired: number;
}

/** What a stock move is: a count an admin set, an order's take, its return, or a line closed untaken. */
export type StockMoveKind = "set" | "take" | "return" | "close";

/**
 * One move of a product's stock log. The log is the truth about stock: a product's stock is the `stock`
 * of its highest `seq` (or its initial stock before any move).
 */
export interface StockMove {
  productId: string;
  /** The position in the product's log: 1, 2, ...; at most one move per product and position. */
  seq: number;
  /** The stock after this move. */
  stock: number;
  delta: number;
  kind: StockMoveKind;
  /** What the move does, unique in the whole log, so that each operation happens at most once. */
  opKey: string;
  orderId?: string;
  time: Date;
}

/** A position in a product's stock log and the stock there. */
export interface StockLevel {
  seq: number;
  stock: number;
}

/** What is kept of a reservation besides its decisions: the priced lines, times and hints. */
export interface ReservationRecord {
  orderId: string;
  lines: ReservedLine[];
  expireTime: Date;
  createTime: Date;
  /** A hint only (may lag behind the decisions, which are the truth). */
  status: ReservationStatus;
  /** The decision `status` was taken from (0: none yet). */
  statusSeq: number;
  updateTime: Date;
}

/** One state change of a reservation: its decisions are numbered 1, 2, ... and each exists at most once. */
export interface ReservationDecision {
  orderId: string;
  seq: number;
  status: ReservationStatus;
  /** For `failed`: the products that were short. */
  shortProductIds: string[];
  time: Date;
  /** False until the units of a no-stock state (failed, released, expired) are back. */
  done: boolean;
}

/**
 * Persistence of the catalog, the stock logs and the reservations. A store only stores: every rule
 * lives in the domain (`StockLog`, `ReservationBook`). What a store must make atomic, with respect to
 * every other instance of the service sharing the database, is exactly this: an insert that a unique
 * key refuses (`insertMove`, `insertReservation`, `insertDecision`, `createProduct`) happens once or not
 * at all, and says which. Every other write may be lost or applied late (the domain treats what they
 * write as hints and caches).
 */
export interface ProductStore {
  /** Creates a product with `stock` units; a used SKU throws ALREADY_EXISTS, a used id returns it. */
  createProduct(product: Product): Promise<CreateOutcome>;
  /** One product; its stock as the last written stock level shows it (see {@linkcode stockLevel}). */
  findProduct(id: string): Promise<Product | undefined>;
  /** The products of these ids that exist, in any order. */
  findProducts(ids: readonly string[]): Promise<Product[]>;
  /** Every product (read once when an instance starts). */
  allProducts(): Promise<Product[]>;
  /** Changes catalog fields (none: only `updateTime`); a SKU of another product throws ALREADY_EXISTS. */
  updateProduct(id: string, fields: Partial<CatalogFields>, now: Date): Promise<Product | undefined>;
  /** Deletes a product and its stock level (its log stays as history); false when there was none. */
  deleteProduct(id: string): Promise<boolean>;

  /** Appends a move; false when the product has a move at `seq` already, or the log has `opKey`. */
  insertMove(move: StockMove): Promise<boolean>;
  /** The move of a product at a position of its log. */
  findMove(productId: string, seq: number): Promise<StockMove | undefined>;
  /** The move of an operation. */
  findMoveByOp(opKey: string): Promise<StockMove | undefined>;
  /**
   * The stock level last written for reads (never ahead of the log, possibly behind it); for a product
   * without one, position 0 with its initial stock; undefined for an unknown product without one.
   */
  stockLevel(productId: string): Promise<StockLevel | undefined>;
  /** Writes the stock level that reads show (a cache: a write may be lost or land after a newer one). */
  saveStockLevel(productId: string, level: StockLevel): Promise<void>;
  /** The stock levels of these products that have one. */
  stockLevels(productIds: readonly string[]): Promise<Map<string, StockLevel>>;

  /** Appends a change; false when a change with this `seq` exists. */
  insertCatalogChange(change: CatalogChange): Promise<boolean>;
  /** The change at `seq`, if there is one yet. */
  catalogChange(seq: number): Promise<CatalogChange | undefined>;
  /** Changes from `seq` on, in order, as many as the store reads in one go (none: there is none at `seq`). */
  catalogChangesFrom(seq: number): Promise<CatalogChange[]>;
  /** A number at or below the last change's (a hint that saves reading the whole log at start). */
  catalogHead(): Promise<number>;
  /** Records a change number as the hint (a lost or late write only makes a start read further). */
  saveCatalogHead(seq: number): Promise<void>;

  /** Stores a new reservation; false when the order has one already. */
  insertReservation(record: ReservationRecord): Promise<boolean>;
  findReservation(orderId: string): Promise<ReservationRecord | undefined>;
  /** Updates the status hint unless it shows this decision or a later one already. */
  saveReservationStatus(orderId: string, status: ReservationStatus, seq: number, time: Date): Promise<void>;
  /** Up to `limit` reservations whose hint says they may still hold units (pending or reserved). */
  openReservations(limit: number): Promise<ReservationRecord[]>;
  /** Stores a decision; false when the reservation has a decision with this `seq` already. */
  insertDecision(decision: ReservationDecision): Promise<boolean>;
  /** The decision with the highest `seq`, or undefined before the first. */
  latestDecision(orderId: string): Promise<ReservationDecision | undefined>;
  /** Records that the units of a no-stock decision are back. */
  markDecisionDone(orderId: string, seq: number): Promise<void>;
  /** Up to `limit` decisions whose units are not known to be back. */
  unfinishedDecisions(limit: number): Promise<ReservationDecision[]>;
}
