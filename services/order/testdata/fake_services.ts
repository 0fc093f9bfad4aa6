/**
 * In-memory stand-ins for the product service's InventoryService and the payment service's
 * PaymentProcessorService, as Connect routes, for the order service's handler tests. They keep the
 * contracts' promises (idempotent by order id, all-or-nothing reservations) so the saga meets the same
 * answers it gets from the real services.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { DomainError, notFound } from "@shop/platform/errors";
import { toConnectError } from "@shop/platform/server";
import { InventoryService, ReservationSchema, ReservationStatus } from "@shop/proto/product";
import { PaymentProcessorService, PaymentSchema, PaymentStatus } from "@shop/proto/payment";

/** A product the fake inventory knows. */
export interface FakeProduct {
  name: string;
  priceMinor: bigint;
  currency?: string;
  stock: number;
}

/** The fake product service: stock per product, and a reservation per order. */
export class FakeInventory {
  products = new Map<string, FakeProduct>();
  reservations = new Map<
    string,
    { items: Array<{ productId: string; quantity: number }>; status: ReservationStatus }
  >();
  /** While set, every call fails with UNAVAILABLE (the service is down). */
  down = false;
  /** While set, every call fails with this error (a refusal the saga does not expect). */
  failWith: ConnectError | undefined;
  /** How many calls arrived (retries included). */
  calls = 0;

  /** Registers the InventoryService on a router. */
  routes = (router: ConnectRouter) => {
    router.service(InventoryService, {
      reserveStock: (request) => {
        this.#up();
        const existing = this.reservations.get(request.orderId);
        if (!existing) {
          const short = request.items.filter((item) =>
            (this.products.get(item.productId)?.stock ?? 0) < item.quantity
          );
          if (short.length > 0) {
            throw toConnectError(
              new DomainError(
                "failed_precondition",
                "OUT_OF_STOCK",
                `out of stock: ${short.map((i) => i.productId).join(", ")}`,
              ),
            );
          }
          for (const item of request.items) this.#product(item.productId).stock -= item.quantity;
          this.reservations.set(request.orderId, {
            items: request.items.map(({ productId, quantity }) => ({ productId, quantity })),
            status: ReservationStatus.RESERVED,
          });
        }
        return { reservation: this.#reservation(request.orderId) };
      },
      commitReservation: (request) => {
        this.#up();
        const reservation = this.reservations.get(request.orderId);
        if (!reservation || reservation.status === ReservationStatus.RELEASED) {
          throw toConnectError(
            new DomainError("failed_precondition", "INVALID_STATE", "no reservation to commit"),
          );
        }
        reservation.status = ReservationStatus.COMMITTED;
        return { reservation: this.#reservation(request.orderId) };
      },
      releaseReservation: (request) => {
        this.#up();
        const reservation = this.reservations.get(request.orderId);
        if (reservation && reservation.status !== ReservationStatus.RELEASED) {
          for (const item of reservation.items) this.#product(item.productId).stock += item.quantity;
          reservation.status = ReservationStatus.RELEASED;
        }
        return {
          reservation: reservation
            ? this.#reservation(request.orderId)
            : { orderId: request.orderId, status: ReservationStatus.RELEASED },
        };
      },
    });
  };

  #up(): void {
    this.calls++;
    if (this.down) throw new ConnectError("product service is down", Code.Unavailable);
    if (this.failWith) throw this.failWith;
  }

  #product(id: string): FakeProduct {
    const product = this.products.get(id);
    if (!product) throw toConnectError(notFound("product", id));
    return product;
  }

  #reservation(orderId: string) {
    const reservation = this.reservations.get(orderId);
    return create(ReservationSchema, {
      orderId,
      status: reservation?.status ?? ReservationStatus.RELEASED,
      items: (reservation?.items ?? []).map((item) => {
        const product = this.#product(item.productId);
        return {
          productId: item.productId,
          quantity: item.quantity,
          name: product.name,
          unitPrice: { currencyCode: product.currency ?? "USD", amountMinor: product.priceMinor },
        };
      }),
    });
  }
}

/** One charge the fake payment service made. */
export interface FakeCharge {
  orderId: string;
  userId: string;
  amountMinor: bigint;
  currency: string;
  refundedMinor: bigint;
  status: PaymentStatus;
}

/** The fake payment service: one charge per order id, declines for the decline test cards. */
export class FakePayments {
  charges = new Map<string, FakeCharge>();
  /** How many Charge calls arrived (retries included). */
  chargeCalls = 0;
  down = false;
  /** While set, every Charge fails with this error (a refusal the saga does not expect). */
  failWith: ConnectError | undefined;
  /** While set, Charge never answers: the call runs until its deadline. */
  hang = false;

  /** Registers the PaymentProcessorService on a router. */
  routes = (router: ConnectRouter) => {
    router.service(PaymentProcessorService, {
      charge: async (request, ctx) => {
        if (this.down) throw new ConnectError("payment service is down", Code.Unavailable);
        this.chargeCalls++;
        if (this.failWith) throw this.failWith;
        if (this.hang) {
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          throw new ConnectError("the caller gave up", Code.DeadlineExceeded);
        }
        let charge = this.charges.get(request.orderId);
        if (!charge) {
          const declined = request.paymentMethod.includes("Declined");
          charge = {
            orderId: request.orderId,
            userId: request.userId,
            amountMinor: request.amount?.amountMinor ?? 0n,
            currency: request.amount?.currencyCode ?? "",
            refundedMinor: 0n,
            status: declined ? PaymentStatus.FAILED : PaymentStatus.SUCCEEDED,
          };
          this.charges.set(request.orderId, charge);
        }
        if (charge.status === PaymentStatus.FAILED) {
          throw toConnectError(
            new DomainError(
              "failed_precondition",
              "PAYMENT_DECLINED",
              "payment declined: Your card was declined.",
            ),
          );
        }
        return { payment: this.#payment(charge) };
      },
      refundOrder: (request) => {
        if (this.down) throw new ConnectError("payment service is down", Code.Unavailable);
        const charge = this.charges.get(request.orderId);
        if (!charge || charge.status === PaymentStatus.FAILED) return {};
        charge.refundedMinor = charge.amountMinor;
        charge.status = PaymentStatus.REFUNDED;
        return { payment: this.#payment(charge) };
      },
    });
  };

  /** Money kept: captured minus refunded, over every charge. */
  netCharged(): bigint {
    let net = 0n;
    for (const charge of this.charges.values()) {
      if (charge.status !== PaymentStatus.FAILED) net += charge.amountMinor - charge.refundedMinor;
    }
    return net;
  }

  #payment(charge: FakeCharge) {
    return create(PaymentSchema, {
      orderId: charge.orderId,
      userId: charge.userId,
      status: charge.status,
      amount: { currencyCode: charge.currency, amountMinor: charge.amountMinor },
      refundedAmount: { currencyCode: charge.currency, amountMinor: charge.refundedMinor },
    });
  }
}
