/**
 * The chaos suite's fault injectors: each breaks one part of a running stack (started with
 * `ownServers`, so its PostgreSQL, etcd and FerretDB are its own to restart) and repairs it, the way an
 * operator or a machine would: a process killed and started again, a process frozen, a server restarted,
 * a dependency turned slow. `inject` returns once the fault is over (the part is back or repaired); the
 * suite then waits for the shop to converge.
 *
 * @module
 */
import { delay, type Stack, type StackService, stackServices } from "../e2e/stack.ts";

/** One fault. */
export interface Fault {
  /** Its name in the suite's table: `SIGKILL order`. */
  readonly name: string;
  /** Breaks the part, keeps it broken for a while under load, and repairs it. */
  inject(stack: Stack): Promise<void>;
}

/** How long the load runs against a broken part before it is repaired, in ms. */
const brokenMs = 3_000;

/**
 * SIGKILL the (oldest) instance of a service in the middle of the load, then start a new one (a
 * supervisor's restart: same configuration and data, a new port, registered in etcd).
 *
 * @example
 * ```ts ignore
 * await killAndRestart("order").inject(stack);
 * ```
 */
export function killAndRestart(service: StackService): Fault {
  return {
    name: `SIGKILL ${service}`,
    inject: async (stack) => {
      const [victim] = stack.instances(service);
      if (victim === undefined) throw new Error(`no ${service} instance to kill`);
      await victim.kill();
      await delay(brokenMs);
      await stack.startInstance(service);
    },
  };
}

/**
 * SIGSTOP a product instance for longer than its lease in etcd (so it drops out of the registry while
 * it holds connections and requests), then SIGCONT it; over once the gateway routes to it again.
 *
 * @example
 * ```ts ignore
 * await freezeProduct.inject(stack);
 * ```
 */
export const freezeProduct: Fault = {
  name: "SIGSTOP product > lease TTL",
  inject: async (stack) => {
    const instances = stack.instances("product");
    const victim = instances.at(-1);
    if (victim === undefined) throw new Error("no product instance to freeze");
    victim.process.signal("SIGSTOP");
    try {
      await delay(stack.discovery.ttlMs + brokenMs);
    } finally {
      victim.process.signal("SIGCONT");
    }
    await routedAgain(stack);
  },
};

/**
 * Restart one of the stack's own servers (PostgreSQL, FerretDB or etcd) with its clean stop signal.
 *
 * @example
 * ```ts ignore
 * await restartServer("postgres").inject(stack);
 * ```
 */
export function restartServer(name: "postgres" | "etcd" | "ferretdb"): Fault {
  return {
    name: `restart ${name === "postgres" ? "PostgreSQL" : name === "etcd" ? "etcd" : "FerretDB"}`,
    inject: (stack) => stack.restartServer(name),
  };
}

/**
 * Every payment answers 2 s late for a while: Stripe (the simulator) holds each answer 2 s.
 *
 * @example
 * ```ts ignore
 * await slowPayment.inject(stack);
 * ```
 */
export const slowPayment: Fault = {
  name: "payment answers 2 s late",
  inject: async (stack) => {
    const faults = `${stack.stripeSimulatorUrl}/_simulator/faults`;
    const planned = await fetch(faults, {
      method: "POST",
      body: JSON.stringify({ mode: "delay", count: 1_000_000, delayMs: 2_000, pathPrefix: "/v1/" }),
    });
    if (!planned.ok) throw new Error(`the simulator refused the delay: ${await planned.text()}`);
    await planned.body?.cancel();
    try {
      await delay(3 * brokenMs);
    } finally {
      const cleared = await fetch(faults, { method: "DELETE" });
      await cleared.body?.cancel();
    }
  },
};

/**
 * Every fault of the suite, in the order `deno task chaos` runs them.
 *
 * @example
 * ```ts ignore
 * for (const fault of allFaults) await fault.inject(stack);
 * ```
 */
export const allFaults: readonly Fault[] = [
  killAndRestart("order"),
  killAndRestart("product"),
  killAndRestart("payment"),
  killAndRestart("user"),
  freezeProduct,
  restartServer("postgres"),
  restartServer("ferretdb"),
  restartServer("etcd"),
  slowPayment,
];

/**
 * Waits until the gateway routes to every running instance again (after a fault that killed one).
 *
 * @example
 * ```ts ignore
 * await routedAgain(stack);
 * ```
 */
export async function routedAgain(stack: Stack): Promise<void> {
  for (const service of stackServices) {
    const ports = stack.instances(service).map((instance) => instance.port).sort().join(",");
    await stack.waitForHosts(
      service,
      `the gateway routes to the running ${service} instance(s) (${ports}), all healthy`,
      (hosts) =>
        hosts.map((host) => host.port).sort().join(",") === ports &&
        hosts.every((host) => host.healthFlags === "healthy"),
      { timeoutMs: 60_000 },
    );
  }
}
