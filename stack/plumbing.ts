/**
 * The dev stack's plumbing in one process: the Stripe simulator, the edge bridge, Envoy's log shipper
 * and Prometheus' target writer, each one the same code as its own program (`runStripeSimulator`,
 * `runEdge`, `shipFile`, `startTargetsWriter`) with the same configuration (their own env prefixes), but
 * one Deno runtime instead of four: each runtime costs 35-60 MiB at idle, the work they share (an
 * etcd client, a log shipper) is loaded once. `deno task dev` runs it (`plumbingInOneProcess` in
 * `wiring.ts`); the supervisor restarts it whole when it exits. Compose, the Helm chart and the tests
 * run each program on its own, as before.
 *
 * `SHOP_PLUMBING_PROGRAMS` names the programs to run (comma-separated, from {@linkcode plumbingPrograms});
 * its log lines say `service: "plumbing"` and each program's logger category tells which one wrote it.
 * SIGTERM or SIGINT stops every program, then the process.
 *
 * @module
 */
import { loadConfigOrExit, stringList } from "@shop/platform/config";
import { logConfigSchema, serviceLogger, setupLogging, shipOptionsOf } from "@shop/platform/log";
import { runEdge } from "../services/edge/main.ts";
import { edgeConfigSchema } from "../services/edge/config.ts";
import {
  runStripeSimulator,
  stripeSimulatorConfigSchema,
} from "../services/payment/stripe_simulator/main.ts";
import { shipFile, shipFileConfigSchema } from "../observability/ship_file.ts";
import { startTargetsWriter, targetsConfigSchema } from "../observability/prometheus_targets.ts";

/** A program the plumbing process can run: started from its own configuration, stopped by `close`. */
type Start = () => Promise<{ close(): Promise<void> }>;

/**
 * The programs, by the name the stack gives their process when each runs on its own.
 *
 * @example
 * ```ts ignore
 * Object.keys(plumbingPrograms); // ["stripe-simulator", "edge", "envoy-log-shipper", "prometheus-targets"]
 * ```
 */
export const plumbingPrograms: Readonly<Record<string, Start>> = {
  "stripe-simulator": () =>
    runStripeSimulator(loadConfigOrExit(stripeSimulatorConfigSchema, { envPrefix: "SHOP_STRIPE_SIMULATOR" })),
  edge: async () => {
    const bridge = await runEdge(loadConfigOrExit(edgeConfigSchema, { envPrefix: "SHOP_EDGE" }));
    return { close: () => bridge.stop() };
  },
  "envoy-log-shipper": () =>
    Promise.resolve(shipFile(loadConfigOrExit(shipFileConfigSchema, { envPrefix: "SHOP_SHIP_FILE" }))),
  "prometheus-targets": () =>
    startTargetsWriter(loadConfigOrExit(targetsConfigSchema, { envPrefix: "SHOP_TARGETS" })),
};

/**
 * The process's own configuration (env prefix `SHOP_PLUMBING`): `SHOP_PLUMBING_PROGRAMS` names the
 * programs to run, comma-separated; each program reads its own under its own prefix.
 *
 * @example
 * ```ts ignore
 * const { programs } = loadConfigOrExit(plumbingConfigSchema, { envPrefix: "SHOP_PLUMBING" });
 * ```
 */
export const plumbingConfigSchema = {
  programs: stringList({ default: [] }),
  log: logConfigSchema(),
};

/** The environment variable that names the programs to run. */
export const PROGRAMS_ENV = "SHOP_PLUMBING_PROGRAMS";

async function main(): Promise<void> {
  const config = loadConfigOrExit(plumbingConfigSchema, { envPrefix: "SHOP_PLUMBING", args: Deno.args });
  const names = config.programs;
  const unknown = names.filter((name) => !(name in plumbingPrograms));
  if (names.length === 0 || unknown.length > 0) {
    Deno.stderr.writeSync(new TextEncoder().encode(
      `plumbing: ${PROGRAMS_ENV} must name programs among ${Object.keys(plumbingPrograms).join(", ")}${
        unknown.length > 0 ? ` (unknown: ${unknown.join(", ")})` : ""
      }\n`,
    ));
    Deno.exit(2);
  }
  // One logging set-up for all of them; the log store, when the stack has one, gets their lines too.
  await setupLogging({
    service: "plumbing",
    instance: `plumbing-${crypto.randomUUID().slice(0, 8)}`,
    level: config.log.level,
    ship: shipOptionsOf(config.log),
  });
  const log = serviceLogger("plumbing");
  const running: { name: string; close(): Promise<void> }[] = [];
  for (const name of names) {
    const start = plumbingPrograms[name];
    if (start === undefined) continue;
    const program = await start();
    running.push({ name, close: () => program.close() });
  }
  log.info("Running {programs}", { programs: names });
  const stop = async () => {
    // Last started first, as the stack stops its processes.
    for (const program of running.toReversed()) {
      await program.close().catch((error) =>
        log.error("Stopping {name} failed: {error}", { name: program.name, error })
      );
    }
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}

if (import.meta.main) await main();
