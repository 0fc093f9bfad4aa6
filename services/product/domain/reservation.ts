/**
 * Stock reservations of orders: what one is and how it moves from state to state.
 *
 * @module
 */
import type { Money } from "./product.ts";

/**
 * Where a reservation stands.
 *
 * - `pending`: being placed; its lines may be partly taken (only seen while a call is in flight, or after
 *   a process died mid-way; it expires like a reserved one).
 * - `reserved`: every line is held for the order.
 * - `failed`: some line was short; nothing is held (a repeated reserve reports the same shortage).
 * - `committed`: the units left the shop for good.
 * - `released`: the units went back (from reserved, pending or committed).
 * - `expired`: nobody committed or released in time; the units went back.
 */
export type ReservationStatus = "pending" | "reserved" | "failed" | "committed" | "released" | "expired";

/** The moves a reservation may make; nothing else is allowed. */
export const reservationTransitions: Readonly<Record<ReservationStatus, readonly ReservationStatus[]>> = {
  pending: ["reserved", "failed", "released", "expired"],
  reserved: ["committed", "released", "expired"],
  committed: ["released"],
  failed: [],
  released: [],
  expired: [],
};

/**
 * Whether the units of a reservation in this state are back in stock (or were never taken).
 *
 * @example
 * ```ts
 * holdsNoStock("expired"); // true
 * holdsNoStock("committed"); // false
 * ```
 */
export function holdsNoStock(status: ReservationStatus): boolean {
  return status === "failed" || status === "released" || status === "expired";
}

/** One line of a reservation, priced from the catalog when it was placed. */
export interface ReservedLine {
  productId: string;
  name: string;
  unitPrice: Money;
  quantity: number;
}

/** The stock held (or once held) for one order. */
export interface Reservation {
  orderId: string;
  lines: ReservedLine[];
  status: ReservationStatus;
  /** For `failed`: the products that were short. */
  shortProductIds: string[];
  expireTime: Date;
  createTime: Date;
  updateTime: Date;
}
