import { skuTaken } from "../domain/errors.ts";
import type {
  CreateOutcome,
  NewReservation,
  ProductCursor,
  ProductFilter,
  ProductPage,
  ProductStore,
  SweepReport,
} from "../domain/ports.ts";
import type { CatalogFields, Product } from "../domain/product.ts";
import type { Reservation } from "../domain/reservation.ts";

function byCatalogOrder(a: ProductCursor, b: ProductCursor): number {
  return a.createTime.getTime() - b.createTime.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function matches(product: Product, filter: ProductFilter): boolean {
  if (filter.category !== undefined && product.category !== filter.category) return false;
  if (filter.minPriceMinor !== undefined && product.price.amountMinor < filter.minPriceMinor) return false;
  if (filter.maxPriceMinor !== undefined && product.price.amountMinor > filter.maxPriceMinor) return false;
  return (filter.words ?? []).every((word) =>
    product.name.toLowerCase().includes(word.toLowerCase()) ||
    product.description.toLowerCase().includes(word.toLowerCase())
  );
}

/**
 * The product store in memory, for fast handler tests. Behaves as the MongoDB store does (the same
 * contract suite runs on both); being single-threaded, every operation is atomic here by construction.
 *
 * @example
 * ```ts
 * const store = new MemoryProductStore();
 * ```
 */
export class MemoryProductStore implements ProductStore {
  #products = new Map<string, Product>();
  #reservations = new Map<string, Reservation>();

  createProduct(product: Product): Promise<CreateOutcome> {
    const existing = this.#products.get(product.id);
    if (existing) return Promise.resolve({ created: false, product: structuredClone(existing) });
    if ([...this.#products.values()].some((p) => p.sku === product.sku)) {
      return Promise.reject(skuTaken(product.sku));
    }
    this.#products.set(product.id, structuredClone(product));
    return Promise.resolve({ created: true, product: structuredClone(product) });
  }

  findProduct(id: string): Promise<Product | undefined> {
    const product = this.#products.get(id);
    return Promise.resolve(product ? structuredClone(product) : undefined);
  }

  findProducts(ids: readonly string[]): Promise<Product[]> {
    return Promise.resolve(
      ids.flatMap((id) => {
        const product = this.#products.get(id);
        return product ? [structuredClone(product)] : [];
      }),
    );
  }

  listProducts(
    filter: ProductFilter,
    pageSize: number,
    after: ProductCursor | undefined,
  ): Promise<ProductPage> {
    const rest = [...this.#products.values()]
      .filter((product) => matches(product, filter))
      .filter((product) => !after || byCatalogOrder(product, after) > 0)
      .sort(byCatalogOrder);
    const products = rest.slice(0, pageSize).map((product) => structuredClone(product));
    const last = products[products.length - 1];
    return Promise.resolve({
      products,
      next: rest.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    });
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
    return Promise.resolve(structuredClone(updated));
  }

  setStock(id: string, stock: number, now: Date): Promise<Product | undefined> {
    const product = this.#products.get(id);
    if (!product) return Promise.resolve(undefined);
    product.stock = stock;
    product.updateTime = now;
    return Promise.resolve(structuredClone(product));
  }

  deleteProduct(id: string): Promise<boolean> {
    return Promise.resolve(this.#products.delete(id));
  }

  findReservation(orderId: string): Promise<Reservation | undefined> {
    const reservation = this.#reservations.get(orderId);
    return Promise.resolve(reservation ? structuredClone(reservation) : undefined);
  }

  reserve(request: NewReservation): Promise<Reservation> {
    const existing = this.#reservations.get(request.orderId);
    if (existing) return Promise.resolve(structuredClone(existing));
    const short = request.lines
      .filter((line) => (this.#products.get(line.productId)?.stock ?? 0) < line.quantity)
      .map((line) => line.productId);
    if (short.length === 0) this.#move(request.lines, -1);
    const reservation: Reservation = {
      orderId: request.orderId,
      lines: structuredClone(request.lines),
      status: short.length === 0 ? "reserved" : "failed",
      shortProductIds: short,
      expireTime: request.expireTime,
      createTime: request.now,
      updateTime: request.now,
    };
    this.#reservations.set(request.orderId, reservation);
    return Promise.resolve(structuredClone(reservation));
  }

  commit(orderId: string, now: Date): Promise<Reservation | undefined> {
    const reservation = this.#reservations.get(orderId);
    if (reservation?.status === "reserved") {
      reservation.status = "committed";
      reservation.updateTime = now;
    }
    return Promise.resolve(reservation ? structuredClone(reservation) : undefined);
  }

  release(orderId: string, now: Date): Promise<Reservation | undefined> {
    const reservation = this.#reservations.get(orderId);
    if (reservation && (reservation.status === "reserved" || reservation.status === "committed")) {
      this.#move(reservation.lines, +1);
      reservation.status = "released";
      reservation.updateTime = now;
    }
    return Promise.resolve(reservation ? structuredClone(reservation) : undefined);
  }

  sweep(now: Date): Promise<SweepReport> {
    let expired = 0;
    for (const reservation of this.#reservations.values()) {
      if (reservation.status === "reserved" && reservation.expireTime <= now) {
        this.#move(reservation.lines, +1);
        reservation.status = "expired";
        reservation.updateTime = now;
        expired++;
      }
    }
    return Promise.resolve({ expired, repaired: 0 });
  }

  #move(lines: Reservation["lines"], sign: 1 | -1): void {
    for (const line of lines) {
      const product = this.#products.get(line.productId);
      // A deleted product's returning units have nowhere to go; they are dropped with it.
      if (product) product.stock += sign * line.quantity;
    }
  }
}
