/**
 * A real gRPC server for the process tests: health, reflection and an unimplemented ProductService,
 * served over h2c by `node:http2` (Deno.serve drops trailers, so it cannot speak native gRPC).
 *
 * Prints `{"port":N}` on stdout once it listens. On SIGTERM, or when its stdin closes (the test that
 * started it died), it flips health to NOT_SERVING, ends the watches and exits.
 *
 * @example
 * ```sh
 * deno run -A services/platform/grpc/testdata/server.ts
 * ```
 * @module
 */
import * as http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { InventoryService, ProductService } from "@shop/proto/product";
import { createHealthState, registerHealth } from "../health.ts";
import { registerReflection } from "../reflection.ts";

const health = createHealthState({
  services: { [ProductService.typeName]: "SERVING", [InventoryService.typeName]: "NOT_SERVING" },
});
const server = http2.createServer(
  connectNodeAdapter({
    routes(router) {
      router.service(ProductService, {});
      router.service(InventoryService, {});
      registerHealth(router, health);
      registerReflection(router);
    },
  }),
);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  health.shutdown();
  server.close(() => Deno.exit(0));
  // Open client sessions keep close() waiting; the test only needs the process gone.
  setTimeout(() => Deno.exit(0), 2_000).unref();
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
server.listen(Number(Deno.env.get("PORT") ?? "0"), "127.0.0.1", async () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify({ port })}\n`));
});

// The parent holds our stdin open; end of input means it is gone, even if it was killed by SIGKILL.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* drain until the parent goes away */ }
  stop();
})();
