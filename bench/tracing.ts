/**
 * `deno task bench:tracing`: what tracing costs. Two arms in one run, each on a stack of its own with the
 * trace store (Jaeger) running: tracing at 100% (Envoy and every service export every span) and tracing
 * off by config (sampling ratio 0: no exporter, no spans, the store idle). Each arm: GetProduct over REST
 * through Envoy and CreateOrder (the whole saga), closed loop at a fixed concurrency (vegeta). Both stacks
 * run at once and the arms take turns in short rounds (on, off, then off, on, ...), so drifting load from
 * other work on the machine weighs on both alike. Writes `bench/results/tracing.json` and prints the
 * on/off ratios (goal: >= 0.9).
 *
 * Flags: `--duration=S` seconds per scenario and arm (12), `--rounds=N` turns it is split into (3).
 *
 * @module
 */
import { address, createProduct, type Rest, restClient, signIn, signUp } from "../e2e/rest.ts";
import { startStack } from "../e2e/stack.ts";
import { startVegeta, type VegetaTarget, vegetaTargetLine } from "./load.ts";
import { findStackProcesses, Sampler, type Watched } from "./procs.ts";
import type { LoadSummary } from "./results.ts";

const flag = (name: string, fallback: string) =>
  Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const durationS = flag("duration", "12");
const rounds = Math.max(1, flag("rounds", "3"));
const roundS = Math.max(2, Math.round(durationS / rounds));
const concurrency = { reads: 16, createOrder: 8 };

function say(message: string): void {
  // A bench script talks to the person running it.
  // deno-lint-ignore no-console
  console.log(`bench:tracing: ${message}`);
}

async function writeTargets(path: string, targets: Iterable<VegetaTarget>): Promise<string> {
  const lines: string[] = [];
  for (const target of targets) lines.push(vegetaTargetLine(target));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

interface Arm {
  arm: "tracing 100%" | "tracing off";
  getRest: LoadSummary;
  createOrder: LoadSummary;
}

/** One arm's stack, ready to load: its targets written, a short warm-up done. */
interface ArmStack extends AsyncDisposable {
  label: string;
  load(scenario: "getRest" | "createOrder", seconds: number): Promise<LoadSummary>;
}

async function startArm(sampleRatio: number, workDir: string): Promise<ArmStack> {
  const label = sampleRatio > 0 ? "trace_on" : "trace_off";
  say(`${label}: starting the stack (trace store running, sampling ${sampleRatio})`);
  const stack = await startStack({ label, readyTimeoutMs: 180_000, tracing: { sampleRatio } });
  const rest: Rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const products = await Promise.all(
    Array.from(
      { length: 8 },
      () => createProduct(rest, admin.accessToken, { category: "bench", priceMinor: 500, stock: 1_000_000 }),
    ),
  );
  const buyers = await Promise.all(Array.from({ length: 4 }, (_, i) => signUp(rest, `tracing-bench-${i}`)));
  const caFile = `${stack.certsDir}/ca.crt`;
  const first = products[0];
  if (first === undefined) throw new Error("no product");
  const getTargets = await writeTargets(`${workDir}/${label}-get.json`, [
    { method: "GET", url: `${stack.url}/v1/products/${first.id}` },
  ]);
  // A file of fresh orders per round: vegeta reads its targets from the start each time, and a repeated
  // request id would be answered from the first order, not placed again.
  let orderFiles = 0;
  const orderTargets = () =>
    writeTargets(
      `${workDir}/${label}-orders-${orderFiles++}.json`,
      (function* () {
        for (let i = 0; i < Math.max(1000, roundS * 300); i++) {
          yield {
            method: "POST",
            url: `${stack.url}/v1/orders`,
            header: {
              "content-type": ["application/json"],
              authorization: [`Bearer ${buyers[i % buyers.length]?.accessToken}`],
            },
            body: JSON.stringify({
              requestId: crypto.randomUUID(),
              items: [{ productId: products[i % products.length]?.id, quantity: 1 }],
              shippingAddress: address,
              paymentMethod: "pm_card_visa",
            }),
          };
        }
      })(),
    );
  const vegeta = (targetsFile: string, conc: number, d: number, lazy = false) =>
    startVegeta({ targetsFile, concurrency: conc, durationS: d, caFile, lazy, workDir }).done;
  await vegeta(getTargets, concurrency.reads, 2); // warm-up
  return {
    label,
    load: async (scenario, seconds) =>
      scenario === "getRest"
        ? await vegeta(getTargets, concurrency.reads, seconds)
        : await vegeta(await orderTargets(), concurrency.createOrder, seconds, true),
    [Symbol.asyncDispose]: () => stack[Symbol.asyncDispose](),
  };
}

/** Rounds of one scenario added up: requests and errors summed, throughput over the whole time. */
function combine(rounds: LoadSummary[], seconds: number): LoadSummary {
  const sum = (pick: (r: LoadSummary) => number) => rounds.reduce((total, r) => total + pick(r), 0);
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    requests: sum((r) => r.requests),
    throughput: sum((r) => r.throughput * seconds) / (seconds * rounds.length),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    errors: sum((r) => r.errors),
    errorKinds: Object.assign({}, ...rounds.map((r) => r.errorKinds)),
  };
}

const workDir = await Deno.makeTempDir({ prefix: "shop-bench-tracing-" });
try {
  // Both stacks run for the whole measurement, and the arms take turns (on, off, off, on, ...): this
  // machine's load from other work drifts by the minute, and one arm after the other measured the drift.
  await using on = await startArm(1, workDir);
  // Each arm's processes, told apart by when they started, for where the CPU goes.
  const onProcesses = findStackProcesses();
  await using off = await startArm(0, workDir);
  // The test servers (PostgreSQL, FerretDB, etcd) may be one set for both stacks: a part the second
  // stack did not start a process of its own for counts for both arms (each during its own rounds).
  const all = findStackProcesses();
  const kind = (w: Watched) => w.name.replace(/-\d+$/, "");
  const offOwn = all.filter((w) => !onProcesses.some((o) => o.pid === w.pid));
  const processes: Record<"on" | "off", Watched[]> = {
    on: onProcesses,
    off: [...offOwn, ...onProcesses.filter((w) => !offOwn.some((o) => kind(o) === kind(w)))],
  };
  const measured: Record<"on" | "off", Record<"getRest" | "createOrder", LoadSummary[]>> = {
    on: { getRest: [], createOrder: [] },
    off: { getRest: [], createOrder: [] },
  };
  /** CPU milliseconds each part of the arm's stack spent, summed over the rounds. */
  const cpuMs: Record<"on" | "off", Record<"getRest" | "createOrder", Record<string, number>>> = {
    on: { getRest: {}, createOrder: {} },
    off: { getRest: {}, createOrder: {} },
  };
  for (const scenario of ["getRest", "createOrder"] as const) {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0
        ? [["on", on], ["off", off]] as const
        : [["off", off], ["on", on]] as const;
      for (const [name, arm] of order) {
        const sampler = new Sampler(processes[name], 1_000);
        const started = performance.now();
        const summary = await arm.load(scenario, roundS);
        const seconds = (performance.now() - started) / 1000;
        for (const usage of sampler.stop()) {
          const part = usage.name.replace(/-\d+$/, "");
          cpuMs[name][scenario][part] = (cpuMs[name][scenario][part] ?? 0) + usage.cpuPercent * seconds * 10;
        }
        measured[name][scenario].push(summary);
        say(
          `${arm.label} ${scenario} round ${round + 1}: ${summary.throughput.toFixed(1)}/s p50 ${
            summary.p50Ms.toFixed(1)
          } ms`,
        );
      }
    }
  }
  const armOf = (name: "on" | "off"): Arm => ({
    arm: name === "on" ? "tracing 100%" : "tracing off",
    getRest: combine(measured[name].getRest, roundS),
    createOrder: combine(measured[name].createOrder, roundS),
  });
  const [onArm, offArm] = [armOf("on"), armOf("off")];
  const perRequest = (name: "on" | "off", arm: Arm) =>
    Object.fromEntries(
      (["getRest", "createOrder"] as const).map((scenario) => [
        scenario,
        Object.fromEntries(
          Object.entries(cpuMs[name][scenario])
            .filter(([, ms]) => ms > 0)
            .sort(([, a], [, b]) => b - a)
            .map(([part, ms]) => [part, Number((ms / Math.max(arm[scenario].requests, 1)).toFixed(2))]),
        ),
      ]),
    );
  const ratio = (a: LoadSummary, b: LoadSummary) => Number((a.throughput / b.throughput).toFixed(3));
  const result = {
    when: new Date().toISOString(),
    durationS: roundS * rounds,
    rounds,
    concurrency,
    arms: [onArm, offArm],
    ratios: {
      getRestThroughputOnOverOff: ratio(onArm.getRest, offArm.getRest),
      createOrderThroughputOnOverOff: ratio(onArm.createOrder, offArm.createOrder),
    },
    // Where the time goes: CPU milliseconds per request of each part of the arm's stack (the services,
    // Envoy, the databases, Jaeger), from /proc over every round.
    cpuMsPerRequest: {
      "tracing 100%": perRequest("on", onArm),
      "tracing off": perRequest("off", offArm),
    },
  };
  const out = new URL("./results/tracing.json", import.meta.url).pathname;
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  for (const arm of result.arms) {
    say(
      `${arm.arm}: GetProduct REST ${arm.getRest.throughput.toFixed(0)}/s p50 ${
        arm.getRest.p50Ms.toFixed(1)
      } ms; CreateOrder ${arm.createOrder.throughput.toFixed(1)}/s p50 ${
        arm.createOrder.p50Ms.toFixed(1)
      } ms`,
    );
  }
  say(`CPU ms per request: ${JSON.stringify(result.cpuMsPerRequest)}`);
  say(`ratios (throughput with tracing at 100% / off): ${JSON.stringify(result.ratios)}; written to ${out}`);
} finally {
  await Deno.remove(workDir, { recursive: true });
}
