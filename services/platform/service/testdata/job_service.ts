/**
 * A service built with `runService()` for its test: a periodic job whose runs take
 * `SHOP_JOBTEST_RUN_MS` (it stands for work such as a saga recovery), and a close hook. Every step logs a
 * line, so the test reads the order of shutdown from the logs. It uses the product service's certificate.
 *
 * @module
 */
import { ProductService } from "@shop/proto/product";
import { duration, modeField, serverConfigSchema, tlsConfigSchema } from "../../config/mod.ts";
import { discoveryConfigSchema } from "../../discovery/mod.ts";
import { logConfigSchema } from "../../log/mod.ts";
import { runService } from "../run_service.ts";

await runService({
  service: "product",
  envPrefix: "SHOP_JOBTEST",
  schema: {
    mode: modeField(),
    server: serverConfigSchema({ port: 0 }),
    tls: tlsConfigSchema(),
    discovery: discoveryConfigSchema(),
    log: logConfigSchema(),
    runMs: duration({ default: 1_000 }),
  },
  setup: ({ config, log, every, onClose }) => {
    every("job", 50, async () => {
      log.info("Job run started");
      await new Promise((resolve) => setTimeout(resolve, config.runMs));
      log.info("Job run ended");
    });
    onClose(() => log.info("Close hook ran"));
    return { routes: (router) => router.service(ProductService, {}) };
  },
});
