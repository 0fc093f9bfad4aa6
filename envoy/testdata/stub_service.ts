/**
 * A stand-in for the product or payment service (`deno run -A stub_service.ts product p-1`) until the
 * real ones exist: the real kit server (mTLS with the service's certificate, health, claims from the
 * gateway) with canned answers that say which instance answered and who the gateway said the caller is.
 * The product stub serves ProductService; the payment stub serves PaymentService and echoes the Stripe
 * webhook's raw body.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { callerOf } from "@shop/platform/auth";
import { setupLogging } from "@shop/platform/log";
import { startServer, stopOnSignals } from "@shop/platform/server";
import { readTlsFiles } from "@shop/platform/tls";
import { PaymentService } from "@shop/proto/payment";
import { ProductSchema, ProductService } from "@shop/proto/product";

const [service, instance = "stub"] = Deno.args;
const certsDir = Deno.env.get("SHOP_STUB_CERTS_DIR") ?? "";
if ((service !== "product" && service !== "payment") || certsDir === "") {
  throw new Error("usage: SHOP_STUB_CERTS_DIR=DIR stub_service.ts product|payment [INSTANCE]");
}
await setupLogging({ service, instance, level: "info" });

const server = await startServer({
  service,
  port: 0,
  transport: { tls: await readTlsFiles(certsDir, service) },
  routes: (router) => {
    if (service === "product") {
      router.service(ProductService, {
        listProducts: () => ({
          products: [create(ProductSchema, {
            id: "p-1",
            sku: "TEA-1",
            name: "Tea",
            category: "drinks",
            price: { currencyCode: "USD", amountMinor: 1999n },
            stock: 0,
          })],
        }),
        // `name` says which instance answered, `description` who the caller is (from forwarded claims).
        // An id `slow-<ms>` answers after that many ms: a call that keeps a place in flight.
        getProduct: async (request, ctx) => {
          const slow = /^slow-(\d+)$/.exec(request.id);
          if (slow) await new Promise((resolve) => setTimeout(resolve, Number(slow[1])));
          return {
            product: create(ProductSchema, {
              id: request.id,
              name: instance,
              description: callerOf(ctx).user?.id ?? "anonymous",
            }),
          };
        },
        createProduct: (request, ctx) => ({
          product: create(ProductSchema, {
            name: request.product?.name ?? "",
            id: "p-new",
            description: callerOf(ctx).user?.role ?? "anonymous",
          }),
        }),
        deleteProduct: () => {
          throw new ConnectError("the stub deletes nothing", Code.FailedPrecondition);
        },
      });
    } else {
      router.service(PaymentService, {});
    }
  },
  httpRoutes: service === "payment"
    ? [{
      method: "POST",
      path: "/v1/webhooks/stripe",
      // The exact bytes and signature it got, and any claims header: nothing may have changed them.
      handle: async (request) =>
        new Response(await request.arrayBuffer(), {
          headers: {
            "content-type": "application/octet-stream",
            "x-seen-signature": request.headers.get("stripe-signature") ?? "",
            "x-seen-claims": request.headers.get("x-jwt-payload") ?? "",
          },
        }),
    }]
    : [],
  shutdownGraceMs: 1_000,
});
stopOnSignals(server);
