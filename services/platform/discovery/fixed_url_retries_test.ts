import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ProductSchema, ProductService } from "@shop/proto/product";
import { RetryBudget } from "../client/retry_budget.ts";
import { createServiceTransport } from "../client/service_transport.ts";
import { DomainError } from "../errors/domain_error.ts";
import { startServer } from "../server/start_server.ts";
import { ensureDevCertificates, readTlsFiles } from "../tls/tls_files.ts";
import { withFixedUrlRetries } from "./fixed_url_retries.ts";

const certsDir = await ensureDevCertificates();

/** A catalog server that refuses as overloaded when `overloaded()` says so; "flaky" fails UNAVAILABLE. */
async function catalogServer(overloaded: () => boolean) {
  const handled: string[] = [];
  const server = await startServer({
    service: "sample",
    port: 0,
    transport: { tls: await readTlsFiles(certsDir, "product") },
    interceptors: [(next) => (req) => {
      if (!overloaded()) return next(req);
      throw new DomainError("resource_exhausted", "OVERLOADED", "sample is at its limit", {
        retryAfterMs: 20,
      });
    }],
    routes(router) {
      router.service(ProductService, {
        getProduct(request) {
          handled.push(request.id);
          if (request.id === "flaky") {
            throw new DomainError("unavailable", "DEPENDENCY_UNAVAILABLE", "the database is away");
          }
          return { product: create(ProductSchema, { id: request.id, name: "sample" }) };
        },
      });
    },
  });
  return { server, handled };
}

Deno.test("a transport to a fixed URL tries a refused or idempotent call again, within its retry budget", async () => {
  let calls = 0;
  let refusing: "every other call" | "none" | "all" = "every other call";
  const busy = await catalogServer(() => refusing === "all" || (refusing !== "none" && calls++ % 2 === 0));
  const budget = new RetryBudget({ ratio: 0, burst: 4 });
  const transport = withFixedUrlRetries(
    createServiceTransport({
      baseUrl: busy.server.url,
      tls: await readTlsFiles(certsDir, "gateway"),
      identity: "product",
    }),
    { retryBudget: budget },
  );
  try {
    const catalog = createClient(ProductService, transport);
    // The server refuses every other call at its limit: each call goes again once, and runs once.
    for (let i = 0; i < 2; i++) {
      assert.equal((await catalog.getProduct({ id: `p-${i}` })).product?.name, "sample");
    }
    assert.deepEqual(busy.handled, ["p-0", "p-1"]);
    assert.equal(budget.available, 2, "each retry spent from the budget");

    // GetProduct is declared NO_SIDE_EFFECTS: an UNAVAILABLE from its handler goes again too, up to
    // three attempts in all.
    refusing = "none";
    const flaky = await catalog.getProduct({ id: "flaky" }).catch(ConnectError.from);
    assert.ok(flaky instanceof ConnectError);
    assert.equal(flaky.code, Code.Unavailable);
    assert.deepEqual(busy.handled, ["p-0", "p-1", "flaky", "flaky", "flaky"]);
    assert.equal(budget.available, 0);

    // The budget is spent: the next refusal reaches the caller instead of a retry.
    refusing = "all";
    const refused = await catalog.getProduct({ id: "p-2" }).catch(ConnectError.from);
    assert.ok(refused instanceof ConnectError);
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.equal(busy.handled.includes("p-2"), false);
  } finally {
    transport.close();
    await busy.server.shutdown();
  }
});

Deno.test("a transport to a fixed URL does not repeat an UNAVAILABLE of a method its caller says is not idempotent", async () => {
  const calm = await catalogServer(() => false);
  const transport = withFixedUrlRetries(
    createServiceTransport({
      baseUrl: calm.server.url,
      tls: await readTlsFiles(certsDir, "gateway"),
      identity: "product",
    }),
    { isIdempotent: () => false },
  );
  try {
    const failed = await createClient(ProductService, transport).getProduct({ id: "flaky" }).catch(
      ConnectError.from,
    );
    assert.ok(failed instanceof ConnectError);
    assert.equal(failed.code, Code.Unavailable);
    assert.deepEqual(calm.handled, ["flaky"], "one attempt");
  } finally {
    transport.close();
    await calm.server.shutdown();
  }
});
