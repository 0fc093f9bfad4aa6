/**
 * The inventory use cases of the order saga: reserve an order's items, commit, release, expire.
 * The rules of a reservation's life are in {@linkcode ReservationBook}; this checks and prices requests.
 *
 * @module
 */
import { invalidArgument, notFound } from "@shop/platform/errors";
import { invalidReservationState, outOfStock } from "./errors.ts";
import type { ProductStore, SweepReport } from "./ports.ts";
import type { Reservation, ReservedLine } from "./reservation.ts";
import type { CatalogView } from "./catalog_view.ts";
import type { ReservationBook } from "./reservation_book.ts";

/** One item an order asks for. */
export interface StockItem {
  productId: string;
  quantity: number;
}

/** The most units of one product one order may reserve (the proto's own cap). */
export const maxQuantity = 1000;
/** The most lines one reservation may have (the proto's own cap). */
export const maxItems = 50;

/** What {@linkcode Inventory} is built from. */
export interface InventoryDeps {
  store: ProductStore;
  /** The reservation rules, over the same store. */
  book: ReservationBook;
  /** Where items are priced from: the catalog this instance holds (else the store). */
  view?: CatalogView;
  /** How long a reservation holds its units unless committed or released, in ms. */
  reservationTtlMs: number;
  now?: () => Date;
}

/**
 * The inventory use cases. Each is idempotent by order id: repeating a call has no further effect and
 * answers with the same reservation.
 *
 * @example
 * ```ts
 * import { ReservationBook } from "./reservation_book.ts";
 * import { StockLog } from "./stock_log.ts";
 * declare const store: ProductStore;
 * const book = new ReservationBook(store, new StockLog(store));
 * const inventory = new Inventory({ store, book, reservationTtlMs: 15 * 60_000 });
 * await inventory.reserve("0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60", [{ productId: "p-1", quantity: 2 }]);
 * ```
 */
export class Inventory {
  #store: ProductStore;
  #book: ReservationBook;
  #view: CatalogView | undefined;
  #ttlMs: number;
  #now: () => Date;

  /** Creates the use cases over a store. */
  constructor(deps: InventoryDeps) {
    this.#store = deps.store;
    this.#book = deps.book;
    this.#view = deps.view;
    this.#ttlMs = deps.reservationTtlMs;
    this.#now = deps.now ?? (() => new Date());
  }

  /**
   * Reserves every item or none, priced from the catalog. A short item fails the whole reservation with
   * OUT_OF_STOCK naming every short product; an unknown product is NOT_FOUND and writes nothing. An
   * order with a reservation already gets that reservation (or its shortage) again.
   */
  async reserve(orderId: string, items: readonly StockItem[]): Promise<Reservation> {
    checkItems(items);
    const ids = items.map((item) => item.productId);
    // From the catalog as it stands (a change made anywhere before this call is in it).
    const products = this.#view ? await this.#view.catalogFields(ids) : await this.#store.findProducts(ids);
    const byId = new Map(products.map((product) => [product.id, product]));
    const missing = items.find((item) => !byId.has(item.productId));
    if (missing) {
      // A product deleted since the order's first call: its reservation still answers.
      const existing = await this.#book.find(orderId);
      if (existing) return answerOf(sameItems(existing, items));
      throw notFound("product", missing.productId);
    }
    const lines: ReservedLine[] = items.flatMap((item) => {
      const product = byId.get(item.productId);
      return product
        ? [{ productId: product.id, name: product.name, unitPrice: product.price, quantity: item.quantity }]
        : [];
    });
    const now = this.#now();
    const reservation = await this.#book.reserve({
      orderId,
      lines,
      now,
      expireTime: new Date(now.getTime() + this.#ttlMs),
    });
    return answerOf(sameItems(reservation, items));
  }

  /** Makes a reservation final. Committing twice is fine; committing a released or expired one is not. */
  async commit(orderId: string): Promise<Reservation> {
    const reservation = await this.#book.commit(orderId, this.#now());
    if (!reservation) throw notFound("reservation", orderId);
    if (reservation.status !== "committed") {
      throw invalidReservationState(orderId, reservation.status, "commit");
    }
    return reservation;
  }

  /**
   * Returns the units of a reservation, reserved or committed. An unknown order is a no-op that reports
   * a released, empty reservation, so compensation can always run.
   */
  async release(orderId: string): Promise<Reservation> {
    const now = this.#now();
    const reservation = await this.#book.release(orderId, now);
    return reservation ??
      {
        orderId,
        lines: [],
        status: "released",
        shortProductIds: [],
        expireTime: now,
        createTime: now,
        updateTime: now,
      };
  }

  /** Expires what is due and repairs what dead processes left half done; run by every instance. */
  async sweep(): Promise<SweepReport> {
    return await this.#book.sweep(this.#now());
  }
}

function checkItems(items: readonly StockItem[]): void {
  if (items.length === 0) throw invalidArgument([{ field: "items", description: "name at least one item" }]);
  if (items.length > maxItems) {
    throw invalidArgument([{ field: "items", description: `name at most ${maxItems} items` }]);
  }
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.productId)) {
      throw invalidArgument([{
        field: `items[${i}].product_id`,
        description: "names a product already listed",
      }]);
    }
    seen.add(item.productId);
    if (!Number.isSafeInteger(item.quantity) || item.quantity < 1 || item.quantity > maxQuantity) {
      throw invalidArgument([{
        field: `items[${i}].quantity`,
        description: `must be from 1 to ${maxQuantity}`,
      }]);
    }
  });
}

/** A repeated reserve must ask for what the first one did; anything else is a caller's bug. */
function sameItems(reservation: Reservation, items: readonly StockItem[]): Reservation {
  const asked = items.map((item) => `${item.productId}x${item.quantity}`).sort().join(",");
  const held = reservation.lines.map((line) => `${line.productId}x${line.quantity}`).sort().join(",");
  if (asked !== held) {
    throw invalidArgument([{
      field: "order_id",
      description: "has a reservation with other items already; an order's items cannot change",
    }]);
  }
  return reservation;
}

function answerOf(reservation: Reservation): Reservation {
  if (reservation.status === "failed") throw outOfStock(reservation.shortProductIds);
  return reservation;
}
