/**
 * `deno task bench:tracing`: what tracing costs. Two arms in one run, each on a stack of its own with the
 * trace store (Jaeger) running: tracing at 100% (Envoy and every service export every span) and tracing
 * off by config (sampling ratio 0: no exporter, no spans, the store idle). Each arm: GetProduct over REST
 * through Envoy and CreateOrder (the whole saga), closed loop at a fixed concurrency (vegeta). Writes
 * `bench/results/tracing.json` and prints the on/off ratios (goal: >= 0.9).
 *
 * Flags: `--duration=S` seconds per scenario (10).
 *
 * @module
 */
import { address, createProduct, type Rest, restClient, signIn, signUp } from "../e2e/rest.ts";
import { startStack } from "../e2e/stack.ts";
import { startVegeta, type VegetaTarget, vegetaTargetLine } from "./load.ts";
import type { LoadSummary } from "./results.ts";

const durationS = Number(Deno.args.find((a) => a.startsWith("--duration="))?.split("=")[1] ?? "10");
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

async function runArm(sampleRatio: number, workDir: string): Promise<Arm> {
  const label = sampleRatio > 0 ? "trace_on" : "trace_off";
  say(`${label}: starting the stack (trace store running, sampling ${sampleRatio})`);
  await using stack = await startStack({ label, readyTimeoutMs: 180_000, tracing: { sampleRatio } });
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
  const orderTargets = await writeTargets(
    `${workDir}/${label}-orders.json`,
    (function* () {
      for (let i = 0; i < Math.max(2000, durationS * 300); i++) {
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
  const getRest = await vegeta(getTargets, concurrency.reads, durationS);
  say(`${label}: GetProduct REST ${getRest.throughput.toFixed(0)}/s p50 ${getRest.p50Ms.toFixed(1)} ms`);
  const createOrder = await vegeta(orderTargets, concurrency.createOrder, durationS, true);
  say(`${label}: CreateOrder ${createOrder.throughput.toFixed(1)}/s p50 ${createOrder.p50Ms.toFixed(1)} ms`);
  return { arm: sampleRatio > 0 ? "tracing 100%" : "tracing off", getRest, createOrder };
}

const workDir = await Deno.makeTempDir({ prefix: "shop-bench-tracing-" });
try {
  const on = await runArm(1, workDir);
  const off = await runArm(0, workDir);
  const ratio = (a: LoadSummary, b: LoadSummary) => Number((a.throughput / b.throughput).toFixed(3));
  const result = {
    when: new Date().toISOString(),
    durationS,
    concurrency,
    arms: [on, off],
    ratios: {
      getRestThroughputOnOverOff: ratio(on.getRest, off.getRest),
      createOrderThroughputOnOverOff: ratio(on.createOrder, off.createOrder),
    },
  };
  const out = new URL("./results/tracing.json", import.meta.url).pathname;
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  say(`ratios (throughput with tracing at 100% / off): ${JSON.stringify(result.ratios)}; written to ${out}`);
} finally {
  await Deno.remove(workDir, { recursive: true });
}
