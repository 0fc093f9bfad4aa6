import assert from "node:assert/strict";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@shop/proto/grpc";
import { createHealthState, type HealthState, OVERALL, registerHealth } from "./health.ts";

const PRODUCTS = "shop.product.v1.ProductService";

function healthClient(state: HealthState) {
  return createClient(Health, createRouterTransport((router) => registerHealth(router, state)));
}

/** Reads the next message of a stream, failing instead of hanging when none comes. */
async function next<T>(stream: AsyncIterator<T>, what: string): Promise<IteratorResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), 2_000);
  });
  try {
    return await Promise.race([stream.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("registerHealth() Check answers the overall status and each service's status", async () => {
  const state = createHealthState({ services: { [PRODUCTS]: "NOT_SERVING" } });
  const client = healthClient(state);

  assert.equal((await client.check({ service: OVERALL })).status, Status.SERVING);
  assert.equal((await client.check({ service: PRODUCTS })).status, Status.NOT_SERVING);

  state.setStatus(PRODUCTS, "SERVING");
  state.setStatus(OVERALL, "NOT_SERVING");
  assert.equal((await client.check({ service: PRODUCTS })).status, Status.SERVING);
  assert.equal((await client.check({ service: "" })).status, Status.NOT_SERVING);
});

Deno.test("registerHealth() Check answers NOT_FOUND for a service without a status", async () => {
  const client = healthClient(createHealthState());

  await assert.rejects(client.check({ service: "shop.nothing.v1.NothingService" }), (error) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.NotFound);
    return true;
  });
});

Deno.test("registerHealth() Watch sends the current status, then every change", async () => {
  const state = createHealthState({ services: { [PRODUCTS]: "SERVING" } });
  const abort = new AbortController();
  const stream = healthClient(state).watch({ service: PRODUCTS }, { signal: abort.signal })[
    Symbol.asyncIterator
  ]();
  try {
    assert.equal((await next(stream, "the current status")).value?.status, Status.SERVING);
    state.setStatus(PRODUCTS, "NOT_SERVING");
    assert.equal((await next(stream, "the change")).value?.status, Status.NOT_SERVING);
    state.setStatus(PRODUCTS, "NOT_SERVING"); // no change, so no message
    state.setStatus(PRODUCTS, "SERVING");
    assert.equal((await next(stream, "the second change")).value?.status, Status.SERVING);
  } finally {
    abort.abort();
    await stream.return?.();
  }
});

Deno.test("registerHealth() Watch sends SERVICE_UNKNOWN and keeps watching until the service appears", async () => {
  const state = createHealthState();
  const abort = new AbortController();
  const stream = healthClient(state).watch({ service: PRODUCTS }, { signal: abort.signal })[
    Symbol.asyncIterator
  ]();
  try {
    assert.equal((await next(stream, "SERVICE_UNKNOWN")).value?.status, Status.SERVICE_UNKNOWN);
    state.setStatus(PRODUCTS, "SERVING");
    assert.equal((await next(stream, "the new service's status")).value?.status, Status.SERVING);
  } finally {
    abort.abort();
    await stream.return?.();
  }
});

Deno.test("registerHealth() List answers every status, the overall one included", async () => {
  const state = createHealthState({ overall: "NOT_SERVING", services: { [PRODUCTS]: "SERVING" } });

  const { statuses } = await healthClient(state).list({});

  assert.deepEqual(
    Object.fromEntries(Object.entries(statuses).map(([name, response]) => [name, response.status])),
    { "": Status.NOT_SERVING, [PRODUCTS]: Status.SERVING },
  );
});

Deno.test("HealthState.shutdown() flips everything to NOT_SERVING, ends watches and ignores later updates", async () => {
  const state = createHealthState({ services: { [PRODUCTS]: "SERVING" } });
  const client = healthClient(state);
  const overall = client.watch({ service: OVERALL })[Symbol.asyncIterator]();
  const products = client.watch({ service: PRODUCTS })[Symbol.asyncIterator]();
  const unknown = client.watch({ service: "shop.nothing.v1.NothingService" })[Symbol.asyncIterator]();
  assert.equal((await next(overall, "overall SERVING")).value?.status, Status.SERVING);
  assert.equal((await next(products, "product SERVING")).value?.status, Status.SERVING);
  assert.equal((await next(unknown, "SERVICE_UNKNOWN")).value?.status, Status.SERVICE_UNKNOWN);

  state.shutdown();

  assert.equal((await next(overall, "overall NOT_SERVING")).value?.status, Status.NOT_SERVING);
  assert.equal((await next(overall, "the end of the overall watch")).done, true);
  assert.equal((await next(products, "product NOT_SERVING")).value?.status, Status.NOT_SERVING);
  assert.equal((await next(products, "the end of the product watch")).done, true);
  assert.equal((await next(unknown, "the end of the unknown watch")).done, true);
  assert.equal(state.isShutdown, true);

  state.setStatus(PRODUCTS, "SERVING");
  assert.equal((await client.check({ service: PRODUCTS })).status, Status.NOT_SERVING);
  assert.equal((await client.check({ service: OVERALL })).status, Status.NOT_SERVING);
  const late = [];
  for await (const response of client.watch({ service: PRODUCTS })) late.push(response.status);
  assert.deepEqual(late, [Status.NOT_SERVING], "a watch opened after shutdown gets the status and ends");
});

Deno.test("HealthState.watch() gives a slow reader the latest status, not every step", async () => {
  const state = createHealthState();
  const stream = state.watch(PRODUCTS)[Symbol.asyncIterator]();
  assert.equal((await next(stream, "SERVICE_UNKNOWN")).value, "SERVICE_UNKNOWN");

  state.setStatus(PRODUCTS, "SERVING");
  state.setStatus(PRODUCTS, "NOT_SERVING");
  state.setStatus(PRODUCTS, "SERVING");

  assert.equal((await next(stream, "the latest status")).value, "SERVING");
  state.shutdown();
  assert.equal((await next(stream, "NOT_SERVING")).value, "NOT_SERVING");
  assert.equal((await next(stream, "the end")).done, true);
});

Deno.test("HealthState.watch() ends when its signal aborts", async () => {
  const state = createHealthState();
  const abort = new AbortController();
  const stream = state.watch(OVERALL, abort.signal)[Symbol.asyncIterator]();
  assert.equal((await next(stream, "SERVING")).value, "SERVING");

  const pending = next(stream, "the end");
  abort.abort();

  assert.equal((await pending).done, true);
  state.setStatus(OVERALL, "NOT_SERVING"); // nobody is listening any more; must not throw
});
