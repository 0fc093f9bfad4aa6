/**
 * gRPC's standard services for every shop server: health checking (`grpc.health.v1.Health`) and server
 * reflection (`grpc.reflection.v1.ServerReflection`), on a Connect router.
 *
 * Serve them with `node:http2` and `connectNodeAdapter`: `Deno.serve` drops HTTP trailers, so it cannot
 * speak native gRPC.
 *
 * @example
 * ```ts
 * import * as http2 from "node:http2";
 * import { connectNodeAdapter } from "@connectrpc/connect-node";
 * import { ProductService } from "@shop/proto/product";
 * import { createHealthState, registerHealth, registerReflection } from "@shop/platform/grpc";
 *
 * const health = createHealthState({ overall: "NOT_SERVING" });
 * const server = http2.createServer(connectNodeAdapter({
 *   routes(router) {
 *     router.service(ProductService, {});
 *     registerHealth(router, health);
 *     registerReflection(router);
 *   },
 * }));
 * server.listen(8080, () => health.setStatus("", "SERVING"));
 * Deno.addSignalListener("SIGTERM", () => {
 *   health.shutdown(); // ends Watch streams, which would otherwise keep close() waiting
 *   server.close();
 * });
 * ```
 * @module
 */
export {
  createHealthState,
  type HealthState,
  type HealthStateOptions,
  OVERALL,
  registerHealth,
  type ServingStatus,
  type WatchedStatus,
} from "./health.ts";
export { registerReflection } from "./reflection.ts";
