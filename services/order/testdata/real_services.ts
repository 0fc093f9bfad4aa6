/**
 * The real product and payment services, as the order service's handler tests call them: their own
 * routes and rules over memory stores (the payment service with a fake Stripe that keeps Stripe's test
 * card semantics), served in memory with the certificates' identities the kit checks. A switch per
 * service makes it fail the way a network or a server does (down, a refusal, a call that never answers),
 * so the saga meets exactly the answers it gets in production.
 *
 * @module
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { inMemoryTransport } from "@shop/platform/server";
import { InventoryService } from "@shop/proto/product";
import { PaymentProcessorService } from "@shop/proto/payment";
import { Payments } from "../../payment/domain/payments.ts";
import { MemoryPaymentStore } from "../../payment/store/memory_payment_store.ts";
import { FakePaymentGateway } from "../../payment/testdata/fake_gateway.ts";
import { paymentAllowedPeers, paymentRoutes } from "../../payment/transport/payment_routes.ts";
import { asAdmin, createProductFixture, type ProductFixture } from "../../product/testdata/fixtures.ts";
import { inventoryAllowedPeers } from "../../product/transport/product_routes.ts";

/** Makes calls to one service fail, as a test says. */
export class ServiceSwitch {
  /** While set, every call fails with UNAVAILABLE (the service is down). */
  down = false;
  /** While set, calls of `failing` methods fail with this error (a refusal the saga does not expect). */
  failWith: ConnectError | undefined;
  /** The methods `failWith` and `hang` apply to (every method when empty). */
  failing: string[] = [];
  /** While set, calls of `failing` methods never answer: they run until their deadline. */
  hang = false;
  /** Calls that arrived, by method name (retries included). */
  readonly calls = new Map<string, number>();

  /** The server-side interceptor that applies the switch. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const method = req.method.name;
      this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
      if (this.down) throw new ConnectError("the service is down", Code.Unavailable);
      const applies = this.failing.length === 0 || this.failing.includes(method);
      if (applies && this.failWith) throw this.failWith;
      if (applies && this.hang) {
        await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
        throw new ConnectError("the caller gave up", Code.DeadlineExceeded);
      }
      return await next(req);
    };
  }

  /** How many calls of `method` arrived. */
  callsOf(method: string): number {
    return this.calls.get(method) ?? 0;
  }
}

/** A product to put in the catalog: its name is the key the test uses for it. */
export interface CatalogEntry {
  priceMinor: bigint;
  stock: number;
  currency?: string;
}

/** The two services and what a test reads from them. */
export interface RealServices<N extends string> {
  product: ProductFixture;
  /** The product ids, by the names the test gave. */
  ids: Record<N, string>;
  /** InventoryService as the order service calls it (with the order certificate's identity). */
  inventory: ReturnType<typeof createClient<typeof InventoryService>>;
  productSwitch: ServiceSwitch;
  /** PaymentProcessorService as the order service calls it. */
  paymentProcessor: ReturnType<typeof createClient<typeof PaymentProcessorService>>;
  paymentSwitch: ServiceSwitch;
  payments: Payments;
  ledger: MemoryPaymentStore;
  stripe: FakePaymentGateway;
  /** The stock of a product, as the catalog shows it. */
  stockOf(name: N): Promise<number>;
  /** Money kept at Stripe: captured minus refunded, over every PaymentIntent. */
  netCharged(): bigint;
  /** PaymentIntents that captured money (whatever was refunded since). */
  capturedCharges(): number;
}

/**
 * Starts the services in memory with `catalog` in the product service.
 *
 * @example
 * ```ts
 * const services = await realServices({ Kettle: { priceMinor: 1999n, stock: 5 } });
 * await services.stockOf("Kettle"); // 5
 * ```
 */
export async function realServices<N extends string>(
  catalog: Record<N, CatalogEntry>,
): Promise<RealServices<N>> {
  const product = createProductFixture();
  const ids = {} as Record<N, string>;
  for (const [name, entry] of Object.entries(catalog) as Array<[N, CatalogEntry]>) {
    const { product: created } = await product.products.createProduct({
      product: {
        sku: `T-${crypto.randomUUID().slice(0, 8)}`,
        name,
        category: "test",
        price: { currencyCode: entry.currency ?? "USD", amountMinor: entry.priceMinor },
        stock: entry.stock,
      },
    }, asAdmin);
    if (!created) throw new Error(`the product service did not create ${name}`);
    ids[name] = created.id;
  }
  const productSwitch = new ServiceSwitch();
  const inventory = createClient(
    InventoryService,
    inMemoryTransport(product.routes, {
      peer: "order",
      allowedPeers: inventoryAllowedPeers,
      interceptors: [productSwitch.interceptor()],
    }),
  );

  const ledger = new MemoryPaymentStore();
  const stripe = new FakePaymentGateway();
  const payments = new Payments({ store: ledger, gateway: stripe, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  const paymentSwitch = new ServiceSwitch();
  const paymentProcessor = createClient(
    PaymentProcessorService,
    inMemoryTransport(paymentRoutes(payments), {
      peer: "order",
      allowedPeers: paymentAllowedPeers,
      interceptors: [paymentSwitch.interceptor()],
    }),
  );

  return {
    product,
    ids,
    inventory,
    productSwitch,
    paymentProcessor,
    paymentSwitch,
    payments,
    ledger,
    stripe,
    async stockOf(name) {
      return (await product.products.getProduct({ id: ids[name] })).product?.stock ?? -1;
    },
    netCharged() {
      let net = 0n;
      for (const intent of stripe.intents.values()) {
        if (intent.status === "succeeded") net += intent.amountMinor - intent.refundedMinor;
      }
      return net;
    },
    capturedCharges() {
      return [...stripe.intents.values()].filter((intent) => intent.status === "succeeded").length;
    },
  };
}
