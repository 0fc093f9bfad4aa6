/**
 * What the catalog and inventory rules need from storage, owned here so that adapters depend on the
 * domain and never the other way round.
 *
 * @module
 */
import type { CatalogFields, Product } from "./product.ts";
import type { Reservation, ReservedLine } from "./reservation.ts";

/** A position in the catalog order (creation time, then id): after this product. */
export interface ProductCursor {
  createTime: Date;
  id: string;
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
  /** Unfinished work of dead processes that this sweep completed (stock returns, stock levels). */
  repaired: number;
}

/**
 * Persistence of the catalog and of stock. Stock changes and reservation states are decided by the
 * store, atomically with respect to every other instance of the service sharing the database.
 */
export interface ProductStore {
  /** Creates a product with `stock` units; a used SKU throws ALREADY_EXISTS, a used id returns it. */
  createProduct(product: Product): Promise<CreateOutcome>;
  findProduct(id: string): Promise<Product | undefined>;
  /** The products of these ids that exist, in any order. */
  findProducts(ids: readonly string[]): Promise<Product[]>;
  listProducts(
    filter: ProductFilter,
    pageSize: number,
    after: ProductCursor | undefined,
  ): Promise<ProductPage>;
  /** Changes catalog fields; a SKU used by another product throws ALREADY_EXISTS. */
  updateProduct(id: string, fields: Partial<CatalogFields>, now: Date): Promise<Product | undefined>;
  /** Sets the units available now (reserved units stay reserved). */
  setStock(id: string, stock: number, now: Date): Promise<Product | undefined>;
  /** Deletes a product; false when there was none. */
  deleteProduct(id: string): Promise<boolean>;

  findReservation(orderId: string): Promise<Reservation | undefined>;
  /**
   * Reserves every line or none. Returns the reservation as it now stands: `reserved`, or `failed`
   * naming the short products; for an order that has a reservation already, that one (placing it
   * again has no effect).
   */
  reserve(reservation: NewReservation): Promise<Reservation>;
  /** Makes a reserved reservation committed; any other state is returned unchanged. */
  commit(orderId: string, now: Date): Promise<Reservation | undefined>;
  /** Returns the units of a pending, reserved or committed reservation; others are returned unchanged. */
  release(orderId: string, now: Date): Promise<Reservation | undefined>;
  /** Expires reservations due by `now` and finishes work that dead processes left half done. */
  sweep(now: Date): Promise<SweepReport>;
}
