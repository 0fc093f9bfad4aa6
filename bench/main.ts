// deno-lint-ignore-file no-console -- a script: what it prints is its interface
/**
 * `deno task bench`: load scenarios against a stack of its own (`e2e/stack.ts`, on free ports, with
 * throwaway data on servers this run starts), with real load tools at fixed concurrency, side by side
 * in one run so that the ratios between them hold even on a busy machine. Writes
 * `bench/results/latest.json` and prints the tables (Markdown, as pasted into the README).
 *
 * Flags: `--duration=S` seconds per scenario (10), `--quick` (3 s scenarios, curves to 10k rows, for
 * trying it out), `--skip-dev` (no `deno task dev` timing), `--curves=1000,10000,100000`,
 * `--out=PATH` (bench/results/latest.json), `--only=health,get_grpc,get_rest,list_rest,create_order,login,
 * get_rest_2,create_order_history,create_order_multi,create_order_hot,cart_add,cart_checkout,curves,dev` (just those; the stack
 * always starts), `--move-history=N` (past stock moves before scenario 5b, 200000), `--order-history=N`
 * (past orders before scenario 5b, in the order store and as reservations in the product store, 100000),
 * `--curve-seconds=S` (load per curve point, 10; --quick 2), `--no-lookup-indexes` (leave FerretDB's
 * tables without the GIN indexes of FerretDB issue #4646, as before they existed), `--only=overload`
 * (the overload scenario of issue 21 on two stacks of its own: bench/overload.ts), `--overload-rounds=N`
 * (rounds of its four runs, added up: 3).
 *
 * @module
 */
import {
  ensureFerretDbLookupIndexes,
  ferretDbBackends,
  postgresForTests,
  TEST_SERVER_ENV,
} from "@shop/platform/testing";
import { productEqualityLookups } from "../services/product/store/mongo_product_store.ts";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { createServiceTransport } from "@shop/platform/client";
import { createClient } from "@connectrpc/connect";
import { ProductService } from "@shop/proto/product";
import { type Stack, type StackInstance, stackServices, startStack } from "../e2e/stack.ts";
import { address, ok, type Product, restClient, signIn, signUp } from "../e2e/rest.ts";
import { type DevStart, timeDevStart } from "./dev_start.ts";
import { openStatementProfile } from "./pg_statements.ts";
import {
  loadToolVersion,
  type RunningLoad,
  startGhz,
  startVegeta,
  vegetaBodies,
  type VegetaTarget,
  vegetaTargetLine,
} from "./load.ts";
import { findStackProcesses, rssNow, RunQueueWait, Sampler, type Watched } from "./procs.ts";
import {
  type BenchResult,
  type CurvePoint,
  type LoadSummary,
  type MachineInfo,
  renderReport,
  round,
  type ScenarioResult,
  standardRatios,
  withFailures as countFailures,
} from "./results.ts";
import { parseHandlingTimes, timesBetween } from "./rpc_metrics.ts";
import { decodeCursor, openOrderSeeder, openProductSeeder, seedMoveHistory } from "./seed.ts";
import {
  type GatewayAnswer,
  gatewayAnswers,
  type OrderHit,
  orderStatusOf,
  overloadChecks,
  type OverloadFigures,
  overloadFigures,
  politeOrders,
  renderOverload,
} from "./overload.ts";
import { envPrefix } from "../stack/services.ts";
import { runCartScenarios } from "./cart.ts";
import { placeholderImageUri } from "../services/product/seed.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const flags = new Map(Deno.args.map((arg) => {
  const [key = "", value = "true"] = arg.replace(/^--/, "").split("=");
  return [key, value];
}));
const quick = flags.has("quick");
const durationS = Number(flags.get("duration") ?? (quick ? 3 : 10));
const curveSizes = (flags.get("curves") ?? (quick ? "1000,10000" : "1000,10000,100000")).split(",").map(
  Number,
);
const outFile = flags.get("out") ?? `${root}/bench/results/latest.json`;
const label = "bench";
/** `--only=get_rest,create_order,curves,dev`: run just these parts (the stack is always started). */
const only = flags.get("only")?.split(",");
const wanted = (part: string) => only === undefined || only.includes(part);
/** Past stock moves seeded before scenario 5b. */
const moveHistory = Number(flags.get("move-history") ?? 200_000);
/** Past orders seeded before scenario 5b. */
const orderHistory = Number(flags.get("order-history") ?? 100_000);
/** Rounds of the overload scenario's four runs (each `--duration` long), added up. */
const overloadRounds = Number(flags.get("overload-rounds") ?? 3);
/** Seconds of load per point of the cost curves. */
const curveSeconds = Number(flags.get("curve-seconds") ?? (quick ? 2 : 10));

/** The fixed concurrency of each scenario. */
const concurrency = {
  reads: 16,
  createOrder: 16,
  // Each sign-in hashes with scrypt N=2^15 (32 MiB, ~0.25 s of one core) off the event loop.
  login: 4,
  curves: 1,
} as const;

const runStarted = performance.now();
let stopping = false;
const say = (message: string) => console.log(`bench: ${message}`);
const seconds = () => `${Math.round((performance.now() - runStarted) / 1000)}s`;

function machineInfo(): MachineInfo {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const meminfo = Deno.readTextFileSync("/proc/meminfo");
  return {
    nproc: navigator.hardwareConcurrency,
    memoryGiB: round(Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) / 1024 / 1024, 1),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    loadAverageAtStart: Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]),
  };
}

/** The processes of the stack, with instance names from the stack itself. */
function stackProcesses(stack: Stack): Watched[] {
  const names = new Map<number, string>();
  for (const service of stackServices) {
    for (const instance of stack.instances(service)) names.set(instance.process.child.pid, instance.name);
  }
  return findStackProcesses(names);
}

/** Runs a load while sampling every process of the stack and the load tool itself. */
async function measured(
  stack: Stack,
  tool: ScenarioResult["tool"],
  start: () => RunningLoad,
): Promise<{ summary: LoadSummary; processes: ScenarioResult["processes"] }> {
  const load = start();
  const sampler = new Sampler([...stackProcesses(stack), { name: tool, pid: load.pid }]);
  try {
    const summary = await load.done;
    return { summary, processes: sampler.stop() };
  } catch (error) {
    sampler.stop();
    throw error;
  }
}

/**
 * Waits (at most 90 s) until the stack is quiet: under 25% of a core in all over a second. Requests a
 * load tool gave up on may still be worked on inside the stack.
 */
async function settle(stack: Stack): Promise<void> {
  const deadline = performance.now() + 90_000;
  while (performance.now() < deadline) {
    const sampler = new Sampler(stackProcesses(stack), 500);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = sampler.stop().reduce((sum, p) => sum + p.cpuPercent, 0);
    if (busy < 25) return;
    say(`  waiting for the stack to settle (${busy}% CPU)`);
  }
}

/**
 * What a child writes to stderr from now on (the stack keeps stderr only for start failures): a second
 * reader of its stderr pipe through /proc, so it sees most, not necessarily all, of it.
 */
function tapStderr(pid: number): () => string {
  let text = "";
  void (async () => {
    try {
      const file = await Deno.open(`/proc/${pid}/fd/2`, { read: true });
      for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
        text = (text + chunk).slice(-20_000);
      }
    } catch {
      // Gone, or not a pipe: nothing to tell.
    }
  })();
  return () => text;
}

async function writeTargets(file: string, targets: Iterable<VegetaTarget>): Promise<string> {
  const lines: string[] = [];
  for (const target of targets) lines.push(vegetaTargetLine(target));
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return file;
}

async function scrapeTimes(stack: Stack, client: Deno.HttpClient) {
  const times = new Map<string, { count: number; seconds: number }>();
  for (const service of ["order", "product", "payment", "cart"] as const) {
    for (const instance of stack.instances(service)) {
      const text = await (await fetch(`${instance.url}/metrics`, { client })).text();
      for (const [key, value] of parseHandlingTimes(text)) {
        const entry = times.get(`${service}:${key}`) ?? { count: 0, seconds: 0 };
        times.set(`${service}:${key}`, {
          count: entry.count + value.count,
          seconds: entry.seconds + value.seconds,
        });
      }
    }
  }
  return times;
}

/** Admin, 20 products with stock for every order, 4 buyers: what CreateOrder needs on a fresh stack. */
async function orderShop(stack: Stack): Promise<{ productIds: string[]; tokens: () => Promise<string[]> }> {
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const productIds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const { product } = ok<{ product: Product }>(
      await rest("POST", "/v1/products", {
        token: admin.accessToken,
        body: {
          sku: `OVERLOAD-${i}`,
          name: `Overload product ${i}`,
          description: "stock for the overload scenario",
          category: "bench",
          price: { currencyCode: "USD", amountMinor: "1999" },
          stock: 1_000_000,
        },
      }),
      "create an overload product",
    );
    productIds.push(product.id);
  }
  const buyers = await Promise.all([0, 1, 2, 3].map((i) => signUp(rest, `overload-buyer-${i}`)));
  // Fresh access tokens for each run: the scenario outlasts a token's lifetime.
  const tokens = async () =>
    (await Promise.all(buyers.map((b) => signIn(rest, b.email, b.password)))).map((t) => t.accessToken);
  return { productIds, tokens };
}

/**
 * Issue 21's overload figures: two fresh stacks (`before`: every service's in-flight limit out of reach;
 * `after`: as shipped), CreateOrder through the gateway at 16 and at 64 in flight, interleaved.
 */
async function overloadSection(workDir: string, caFile: string, notes: string[]) {
  say(`overload: starting two stacks, with and without shedding [${seconds()}]`);
  const unlimited = Object.fromEntries(
    stackServices.map((service) => [service, { [`${envPrefix(service)}_SERVER_MAX_IN_FLIGHT`]: "100000" }]),
  );
  await using before = await startStack({ label: "bench_noshed", readyTimeoutMs: 180_000, env: unlimited });
  await using after = await startStack({ label: "bench_shed", readyTimeoutMs: 180_000 });
  const exits: string[] = [];
  let done = false;
  for (const [name, stack] of [["before", before], ["after", after]] as const) {
    for (const service of stackServices) {
      for (const instance of stack.instances(service)) {
        void instance.process.child.status.then((status) => {
          if (!done) exits.push(`${name} ${instance.name}: code ${status.code}, signal ${status.signal}`);
        });
      }
    }
  }
  const shops = { before: await orderShop(before), after: await orderShop(after) };
  // FerretDB issue #4646: the product store's lookups served by GIN indexes, as in the rest of the bench.
  for (const backend of await ferretDbBackends((await postgresForTests()).url)) {
    await ensureFerretDbLookupIndexes(backend, productEqualityLookups);
  }
  const hitsOf = new Map<string, OrderHit[]>();
  const gatewayOf = new Map<string, GatewayAnswer[]>();
  /** The i-th order of a run: a new requestId each, buyers and products in turn. */
  const orderOf = (shop: { productIds: string[] }, tokens: string[]) => (i: number) => ({
    headers: { "content-type": "application/json", authorization: `Bearer ${tokens[i % tokens.length]}` },
    body: JSON.stringify({
      requestId: crypto.randomUUID(),
      items: [{ productId: shop.productIds[i % shop.productIds.length] ?? "", quantity: 1 }],
      shippingAddress: address,
      paymentMethod: "pm_card_visa",
    }),
  });
  const run = async (which: "before" | "after", conc: number) => {
    const stack = which === "before" ? before : after;
    const order = orderOf(shops[which], await shops[which].tokens());
    // Refused orders are answered in a few ms and each takes a new target: enough for every one.
    const count = conc > concurrency.createOrder ? durationS * 8000 : Math.max(2000, durationS * 300);
    const targets = await writeTargets(
      `${workDir}/overload-${which}-${conc}.json`,
      (function* () {
        for (let i = 0; i < count; i++) {
          const { headers, body } = order(i);
          yield {
            method: "POST",
            url: `${stack.url}/v1/orders`,
            header: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
            body,
          };
        }
      })(),
    );
    let hits: OrderHit[] = [];
    say(`overload: ${which === "after" ? "with" : "without"} shedding, ${conc} in flight for ${durationS} s`);
    // Envoy's own view of the same answers: its access log from here on, and how long its threads and
    // vegeta's waited for a CPU (time no timer inside either process sees).
    const envoy = stack.gateway.envoy.process;
    const logStart = (await Deno.stat(envoy.logFile)).size;
    const envoyWaits = new RunQueueWait(envoy.pid, 500);
    const load = startVegeta({
      targetsFile: targets,
      concurrency: conc,
      durationS,
      caFile,
      lazy: true,
      workDir,
      onResults: async (file) => {
        hits = (await vegetaBodies(file)).map((hit) => {
          const orderStatus = orderStatusOf(hit.body);
          return { code: hit.code, latencyMs: hit.latencyMs, ...(orderStatus ? { orderStatus } : {}) };
        });
      },
    });
    const sampler = new Sampler([...stackProcesses(stack), { name: "vegeta", pid: load.pid }], 500);
    const vegetaWaits = new RunQueueWait(load.pid, 500);
    await load.done;
    const vegetaWaitMs = vegetaWaits.stop();
    const cpu = sampler.stop();
    const envoyWaitMs = envoyWaits.stop();
    const logFile = await Deno.open(envoy.logFile);
    await logFile.seek(logStart, Deno.SeekMode.Start);
    const logText = await new Response(logFile.readable).text();
    const gateway = gatewayAnswers(logText, "/v1/orders");
    await Deno.remove(targets).catch(() => {});
    const figures = overloadFigures(which, conc, durationS, hits, gateway);
    hitsOf.set(`${which} ${conc}`, [...(hitsOf.get(`${which} ${conc}`) ?? []), ...hits]);
    gatewayOf.set(`${which} ${conc}`, [...(gatewayOf.get(`${which} ${conc}`) ?? []), ...gateway]);
    say(
      `  goodput ${figures.goodput}/s, admitted p99 ${figures.admittedP99Ms} ms, ${figures.rejected} refused ` +
        `(p50 ${figures.rejectedP50Ms}, p99 ${figures.rejectedP99Ms} ms; in Envoy p50 ${figures.gatewayRejectedP50Ms}, ` +
        `p99 ${figures.gatewayRejectedP99Ms} ms) ${JSON.stringify(figures.statuses)}`,
    );
    say(
      `  waited for a CPU: Envoy ${Math.round(envoyWaitMs / durationS)} ms/s, vegeta ${
        Math.round(vegetaWaitMs / durationS)
      } ms/s; CPU % ${
        cpu.filter((p) => p.cpuPercent >= 3).map((p) => `${p.name} ${p.cpuPercent}`).join(", ")
      }`,
    );
    // Sagas a queue left running must not slow the next run.
    await settle(stack);
  };
  // Beside the flood, a client that honours retry-after, on the shedding stack at 64 in flight.
  const politeHits: OrderHit[] = [];
  const polite = async (conc: number) => {
    say(
      `overload: with shedding, ${conc} in flight from a client that honours retry-after, for ${durationS} s`,
    );
    using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caFile)] });
    const hits = await politeOrders({
      url: `${after.url}/v1/orders`,
      concurrency: conc,
      durationS,
      order: orderOf(shops.after, await shops.after.tokens()),
      client,
    });
    politeHits.push(...hits);
    const figures = overloadFigures("after", conc, durationS, hits, undefined, "polite");
    say(
      `  goodput ${figures.goodput}/s, admitted p99 ${figures.admittedP99Ms} ms, ${figures.rejected} refused ` +
        `(p50 ${figures.rejectedP50Ms}, p99 ${figures.rejectedP99Ms} ms) ${JSON.stringify(figures.statuses)}`,
    );
    await settle(after);
  };
  // The machine's load drifts over minutes: several short rounds of the four runs, added up.
  // Which stack goes first alternates by round, so that neither gains from its place.
  for (let round = 0; round < overloadRounds; round++) {
    const order = round % 2 === 0 ? ["before", "after"] as const : ["after", "before"] as const;
    for (const conc of [concurrency.createOrder, concurrency.createOrder * 4]) {
      for (const which of order) await run(which, conc);
    }
    // A failure here must not cost the flood's figures: it is noted instead.
    await polite(concurrency.createOrder * 4).catch((error) => {
      notes.push(`overload: the polite client failed: ${error instanceof Error ? error.message : error}`);
    });
  }
  done = true;
  const total = (which: "before" | "after", conc: number) =>
    overloadFigures(
      which,
      conc,
      durationS * overloadRounds,
      hitsOf.get(`${which} ${conc}`) ?? [],
      gatewayOf.get(`${which} ${conc}`),
    );
  const before1x = total("before", concurrency.createOrder);
  const after1x = total("after", concurrency.createOrder);
  const after4x = total("after", concurrency.createOrder * 4);
  const runs: OverloadFigures[] = [
    before1x,
    after1x,
    total("before", concurrency.createOrder * 4),
    after4x,
    overloadFigures(
      "after",
      concurrency.createOrder * 4,
      durationS * overloadRounds,
      politeHits,
      undefined,
      "polite",
    ),
  ];
  const checks = overloadChecks(before1x, after1x, after4x, exits);
  const table = renderOverload(runs, checks);
  console.log(`\n${table}\n`);
  if (exits.length > 0) notes.push(`overload: services exited: ${exits.join("; ")}`);
  return { runs, checks, table };
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const tools = {
    deno: Deno.version.deno,
    vegeta: loadToolVersion("vegeta"),
    ghz: loadToolVersion("ghz"),
  };
  // The bench's own servers, never the ones a surrounding test run (or the environment) names.
  for (const name of Object.values(TEST_SERVER_ENV)) Deno.env.delete(name);
  const workDir = await Deno.makeTempDir({ prefix: "shop-bench-" });
  const notes: string[] = [];
  const scenarios: ScenarioResult[] = [];
  const curves: CurvePoint[] = [];

  // 1. Footprint: `deno task dev` from nothing to healthy, before anything of the bench runs.
  let dev: DevStart = { seconds: null, note: "skipped: --skip-dev" };
  if (!flags.has("skip-dev") && wanted("dev")) {
    say(`timing deno task dev (log ${workDir}/dev.log)`);
    dev = await timeDevStart(`${workDir}/dev.log`);
    say(`deno task dev: ${dev.seconds === null ? "-" : `${dev.seconds.toFixed(1)} s`} (${dev.note})`);
  }

  // The overload scenario alone needs none of the bench's stack: it starts two of its own.
  if (only?.length === 1 && only[0] === "overload") {
    const overload = await overloadSection(workDir, `${await ensureDevCertificates()}/ca.crt`, notes);
    await Deno.writeTextFile(
      outFile.replace(/\.json$/, "-overload.json"),
      JSON.stringify(overload, null, 2) + "\n",
    );
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
    return;
  }

  // 2. The bench's own stack. Production scrypt cost (the stack's default is the tests' low one); the
  // stack's rate limits are raised far above anything measured here (and orders come from several users).
  say(`starting the bench stack [${seconds()}]`);
  const stackStarted = performance.now();
  const stackConfig = {
    productInstances: 1,
    scryptLogN: 15,
    limits: "e2e/stack.ts lenient limits: 100000/s per address, per sign-in and per user",
    orderUsers: 4,
    postgres: "the harness' throwaway cluster (fsync=off, synchronous_commit=off)",
  };
  await using stack = await startStack({
    label,
    readyTimeoutMs: 180_000,
    // The login scenario signs one account in from one address at concurrency 4, above the sign-in
    // throttle's 3 attempts at once (services/user/README.md): let it measure scrypt, not 429s.
    env: {
      user: {
        SHOP_USER_PASSWORD_SCRYPT_LOG_N: String(stackConfig.scryptLogN),
        SHOP_USER_SIGN_IN_FREE_ATTEMPTS: "100",
      },
    },
  });
  const benchStackStartSeconds = (performance.now() - stackStarted) / 1000;
  // Ctrl-C stops the stack too (its service processes are children of this one).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      say(`${signal}: stopping the stack`);
      stopping = true;
      void Promise.resolve(stack[Symbol.asyncDispose]()).finally(() => Deno.exit(130));
    });
  }
  // A service that dies under load is a finding, not something to carry on past silently.
  /** Instances the bench stops itself (the second product instance before 5b). */
  const stoppedOnPurpose = new Set<string>();
  const watchExit = (instance: StackInstance) => {
    const stderr = tapStderr(instance.process.child.pid);
    void instance.process.child.status.then(async (status) => {
      if (stopping || stoppedOnPurpose.has(instance.name)) return;
      // Its last stdout lines may still be on their way to the stack's reader.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const last = instance.process.logs.slice(-3).map((entry) => JSON.stringify(entry).slice(0, 300));
      const note = `${instance.name} exited (code ${status.code}, signal ${status.signal}) during the run; ` +
        `its stderr ends with: ${stderr().slice(-1500)}; its last log lines: ${last.join(" | ")}`;
      notes.push(note);
      say(`WARNING: ${note}`);
    });
  };
  for (const service of stackServices) {
    stack.instances(service).forEach(watchExit);
  }
  say(`stack ready in ${benchStackStartSeconds.toFixed(1)} s at ${stack.url}`);

  const caFile = `${stack.certsDir}/ca.crt`;
  const protoset = `${root}/proto/gen/shop.binpb`;
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);

  // Products with stock for every order of the run, one per few orders so that no product is hot.
  const productIds: string[] = [];
  const picture = await placeholderImageUri();
  for (let i = 0; i < 20; i++) {
    const { product } = ok<{ product: Product }>(
      await rest("POST", "/v1/products", {
        token: admin.accessToken,
        body: {
          sku: `BENCH-${i}`,
          name: `Bench product ${i}`,
          description: "stock for the bench",
          category: "bench",
          price: { currencyCode: "USD", amountMinor: "1999" },
          stock: 1_000_000,
          images: [{ uri: picture, altText: `Bench product ${i}: a placeholder drawing` }],
        },
      }),
      "create a bench product",
    );
    productIds.push(product.id);
  }
  const productId = productIds[0] ?? "";
  const buyers = await Promise.all(
    Array.from({ length: stackConfig.orderUsers }, (_, i) => signUp(rest, `bench-buyer-${i}`)),
  );
  const loginUser = buyers[0];
  if (loginUser === undefined) throw new Error("no bench user");

  // Idle footprint, once the set-up calls have settled.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const idle = rssNow(stackProcesses(stack)).sort((a, b) => b.rssMiB - a.rssMiB);

  /** Writes what was measured so far: a run that fails half-way still leaves its figures. */
  const save = async (): Promise<BenchResult> => {
    const result: BenchResult = {
      startedAt,
      totalSeconds: round((performance.now() - runStarted) / 1000, 0),
      machine,
      tools,
      stack: {
        ...stackConfig,
        productInstancesInScenario7: 2,
        moveHistoryInScenario5b: moveHistory,
        orderHistoryInScenario5b: orderHistory,
      },
      scenarios,
      ratios: standardRatios(scenarios),
      curves,
      footprint: {
        idle,
        devStartSeconds: dev.seconds === null ? null : round(dev.seconds, 1),
        devStartNote: dev.note,
        ...(dev.memory === undefined ? {} : { devIdleMemory: dev.memory }),
        benchStackStartSeconds: round(benchStackStartSeconds, 1),
      },
      notes,
    };
    await Deno.mkdir(new URL(".", `file://${outFile}`).pathname, { recursive: true });
    await Deno.writeTextFile(outFile, JSON.stringify(result, null, 2) + "\n");
    return result;
  };

  if (!flags.has("no-lookup-indexes")) {
    // FerretDB issue #4646: the lookups of the product store, served by GIN indexes, as in `deno task dev`.
    for (const backend of await ferretDbBackends((await postgresForTests()).url)) {
      await ensureFerretDbLookupIndexes(backend, productEqualityLookups);
    }
  }

  const productInstance = stack.instances("product")[0];
  if (productInstance === undefined) throw new Error("the stack runs no product instance");
  const productAddress = `127.0.0.1:${productInstance.port}`;

  const getTargets = await writeTargets(`${workDir}/get.json`, [
    { method: "GET", url: `${stack.url}/v1/products/${productId}` },
  ]);
  const listTargets = await writeTargets(`${workDir}/list.json`, [
    { method: "GET", url: `${stack.url}/v1/products?pageSize=20` },
  ]);

  const scenario = async (
    id: string,
    title: string,
    tool: ScenarioResult["tool"],
    conc: number,
    start: (durationS: number) => RunningLoad,
    options: {
      warmUp?: boolean;
      extra?: () => Promise<Record<string, unknown>>;
      /** Answers that were 2xx but not what was asked for (an order that ended FAILED), by kind. */
      failures?: () => Record<string, number>;
    } = {},
  ): Promise<void> => {
    if (!wanted(id)) return;
    if (options.warmUp) await start(Math.min(2, durationS)).done.catch(() => undefined);
    say(`${title}: ${conc} at a time for ${durationS} s [${seconds()}]`);
    try {
      const measuredRun = await measured(stack, tool, () => start(durationS));
      const summary = options.failures
        ? countFailures(measuredRun.summary, options.failures())
        : measuredRun.summary;
      const processes = measuredRun.processes;
      const result: ScenarioResult = { id, title, tool, concurrency: conc, durationS, ...summary, processes };
      if (options.extra) result.extra = await options.extra();
      scenarios.push(result);
      await save();
      say(
        `  ${round(summary.throughput)}/s, p50 ${round(summary.p50Ms, 2)} ms, p99 ${
          round(summary.p99Ms, 2)
        } ms, ` +
          `${summary.errors} errors; busiest ${
            processes.slice(0, 3).map((p) => `${p.name} ${p.cpuPercent}%`).join(", ")
          }`,
      );
    } catch (error) {
      notes.push(`${id} failed: ${error instanceof Error ? error.message : error}`);
      say(`  FAILED: ${error instanceof Error ? error.message : error}`);
    }
  };

  const ghz = (call: string, data: unknown, identity: string) => (d: number) =>
    startGhz({
      address: productAddress,
      call,
      data,
      concurrency: concurrency.reads,
      durationS: d,
      certsDir: stack.certsDir,
      identity,
      protoset,
      workDir,
    });
  const vegeta =
    (targetsFile: string, conc: number, lazy = false, onResults?: (file: string) => Promise<void>) =>
    (d: number) =>
      startVegeta({
        targetsFile,
        concurrency: conc,
        durationS: d,
        caFile,
        lazy,
        workDir,
        ...(onResults === undefined ? {} : { onResults }),
      });

  // 3. The scenarios, side by side.
  await scenario(
    "health",
    "1 Health/Check, gRPC direct (mTLS)",
    "ghz",
    concurrency.reads,
    ghz("grpc.health.v1.Health/Check", {}, "client"),
    { warmUp: true },
  );
  await scenario(
    "get_grpc",
    "2 GetProduct, gRPC direct (mTLS)",
    "ghz",
    concurrency.reads,
    ghz("shop.product.v1.ProductService/GetProduct", { id: productId }, "gateway"),
    { warmUp: true },
  );
  await scenario(
    "get_rest",
    "3 GetProduct, REST via Envoy",
    "vegeta",
    concurrency.reads,
    vegeta(getTargets, 16),
    {
      warmUp: true,
    },
  );
  await scenario(
    "list_rest",
    "4 ListProducts (20), REST via Envoy",
    "vegeta",
    concurrency.reads,
    vegeta(listTargets, 16),
    {
      warmUp: true,
    },
  );

  // The busiest PostgreSQL statements of each checkout scenario (profiling; in the JSON only).
  const statements = await openStatementProfile((await postgresForTests()).url);
  const metricsClient = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(caFile)],
    ...(await readTlsFiles(stack.certsDir, "prometheus")),
  });
  // CreateOrder: every request a new requestId, spread over the users and products; read lazily and
  // never repeated, so each one runs the whole saga.
  /** One order's items: one unit of one product, spread over the 20 (no product is hot). */
  const spread = (i: number) => [{ productId: productIds[i % productIds.length] ?? "", quantity: 1 }];
  const orderScenario = async (id: string, title: string, itemsOf: typeof spread = spread) => {
    if (!wanted(id)) return;
    const orderCount = Math.max(2000, durationS * 300);
    const orderTargets = await writeTargets(
      `${workDir}/orders-${id}.json`,
      (function* () {
        for (let i = 0; i < orderCount; i++) {
          const buyer = buyers[i % buyers.length];
          yield {
            method: "POST",
            url: `${stack.url}/v1/orders`,
            header: { "content-type": ["application/json"], authorization: [`Bearer ${buyer?.accessToken}`] },
            body: JSON.stringify({
              requestId: crypto.randomUUID(),
              items: itemsOf(i),
              shippingAddress: address,
              paymentMethod: "pm_card_visa",
            }),
          };
        }
      })(),
    );
    const statuses: Record<string, number> = {};
    await statements?.reset();
    const before = await scrapeTimes(stack, metricsClient);
    await scenario(
      id,
      title,
      "vegeta",
      concurrency.createOrder,
      vegeta(orderTargets, concurrency.createOrder, true, async (file) => {
        for (const hit of await vegetaBodies(file)) {
          let status = `HTTP ${hit.code}`;
          try {
            status = (JSON.parse(hit.body) as { order?: { status?: string } }).order?.status ?? status;
          } catch {
            // Not JSON: the HTTP status says enough.
          }
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
      {
        failures: () =>
          Object.fromEntries(
            Object.entries(statuses).filter(([status]) =>
              status !== "ORDER_STATUS_PAID" && !status.startsWith("HTTP")
            ),
          ),
        extra: async () => ({
          ordersByStatus: statuses,
          serverTimeMs: timesBetween(before, await scrapeTimes(stack, metricsClient)),
          busiestStatements: (await statements?.top(8)) ?? [],
        }),
      },
    );
  };
  await orderScenario("create_order", "5 CreateOrder (saga), REST via Envoy + JWT");
  await orderScenario(
    "create_order_multi",
    "5c CreateOrder of 3 products each",
    (i) => [0, 7, 13].map((k) => ({ productId: productIds[(i + k) % productIds.length] ?? "", quantity: 1 })),
  );
  await orderScenario("create_order_hot", "5d CreateOrder, every order for one hot product", () => [{
    productId: productIds[0] ?? "",
    quantity: 1,
  }]);

  // The cart (bench/cart.ts): AddItem, and checkout from a cart of three lines, beside CreateOrder.
  await runCartScenarios({
    url: stack.url,
    rest,
    caFile,
    workDir,
    productIds,
    concurrency: concurrency.createOrder,
    wanted,
    scenario,
    vegeta: (file, conc) => vegeta(file, conc),
    writeTargets,
    serverTimes: () => scrapeTimes(stack, metricsClient),
  });

  const loginTargets = await writeTargets(`${workDir}/login.json`, [{
    method: "POST",
    url: `${stack.url}/v1/auth:login`,
    header: { "content-type": ["application/json"] },
    body: JSON.stringify({ email: loginUser.email, password: loginUser.password }),
  }]);
  await scenario(
    "login",
    "6 Login (scrypt N=2^15), REST via Envoy",
    "vegeta",
    concurrency.login,
    vegeta(loginTargets, concurrency.login),
  );

  // 4. GetProduct with a second product instance behind Envoy.
  if (wanted("get_rest_2")) {
    say(`starting a second product instance [${seconds()}]`);
    watchExit(await stack.startInstance("product"));
    await stack.waitForHosts(
      "product",
      "two healthy hosts",
      (hosts) => hosts.filter((h) => h.healthFlags === "healthy").length === 2,
      { timeoutMs: 60_000 },
    );
  }
  await scenario(
    "get_rest_2",
    "7 GetProduct, REST via Envoy, 2 product instances",
    "vegeta",
    concurrency.reads,
    vegeta(getTargets, 16),
    {
      warmUp: true,
    },
  );

  // The CreateOrder saga on a store with a past (the product store's cost per move may grow with its
  // log), last of the scenarios: if it is slow, the sagas it leaves running must not slow the others.
  if (wanted("create_order_history")) {
    // Like scenario 5, on one product instance: the ratio 5b / 5 is then the history's cost alone.
    for (const extra of stack.instances("product").slice(1)) {
      stoppedOnPurpose.add(extra.name);
      await extra.stop();
    }
    const historySeconds = await seedMoveHistory(label, moveHistory, orderHistory);
    const past = await signUp(rest, "bench-past");
    const pastOrders = await openOrderSeeder(label, past.userId);
    const orderSeconds = await pastOrders.seedTo(orderHistory).finally(() => pastOrders.close());
    notes.push(
      `seeded ${moveHistory} past stock moves and ${orderHistory} past reservations in ` +
        `${historySeconds.toFixed(1)} s, ${orderHistory} past orders in ${
          orderSeconds.toFixed(1)
        } s before 5b`,
    );
    await orderScenario(
      "create_order_history",
      `5b CreateOrder after ${moveHistory / 1000}k past stock moves, ${orderHistory / 1000}k past orders`,
    );
    await settle(stack);
  }

  // 4b. Overload (issue 21): CreateOrder at 16 and 64 in flight on two fresh stacks, with and without
  // shedding, runs interleaved (bench/overload.ts).
  if (wanted("overload")) {
    const overload = await overloadSection(workDir, caFile, notes);
    await Deno.writeTextFile(
      outFile.replace(/\.json$/, "-overload.json"),
      JSON.stringify(overload, null, 2) + "\n",
    );
    notes.push(
      `overload: ${
        overload.checks.map((c) => `${c.what}: ${c.value} (${c.met ? "met" : "NOT met"})`).join("; ")
      }`,
    );
    await save();
  }

  // 5. Cost curves: page latency by table size, first page and a deep page (keyset token).
  // Every running product instance takes in a bulk of seeded products from the catalog's change log
  // before it answers a page: timed on its own, once per catalog size, each instance called directly,
  // so that the curves measure a page of a catalog already held and not the catching up.
  const caughtUp = new Set<number>();
  const catchUp = async (rows: number) => {
    if (caughtUp.has(rows)) return;
    caughtUp.add(rows);
    const tls = await readTlsFiles(stack.certsDir, "gateway");
    for (const instance of stack.instances("product")) {
      const transport = createServiceTransport({ baseUrl: instance.url, tls, defaultTimeoutMs: 300_000 });
      const started = performance.now();
      try {
        await createClient(ProductService, transport).listProducts({ pageSize: 1 });
        const seconds = round((performance.now() - started) / 1000, 1);
        notes.push(`curves: ${instance.name} took in the catalog at ${rows} products in ${seconds} s`);
        say(`  ${instance.name} took in the catalog at ${rows} products in ${seconds} s`);
      } catch (error) {
        notes.push(`curves: ${instance.name} did not take in ${rows} products: ${error}`);
      } finally {
        transport.close();
      }
    }
  };
  const curve = async (name: string, rows: number, page: "first" | "deep", target: VegetaTarget) => {
    if (name.startsWith("list_products")) await catchUp(rows);
    // One request first, untimed, as the scenarios' warm-up: what the first request after seeding pays
    // once (a product instance taking in the seeded rows) is not a page's cost.
    await fetch(target.url, {
      client: metricsClient,
      headers: Object.fromEntries(Object.entries(target.header ?? {}).map(([k, v]) => [k, v.join(",")])),
      signal: AbortSignal.timeout(180_000),
    }).then((response) => response.body?.cancel()).catch(() => undefined);
    const file = await writeTargets(`${workDir}/curve.json`, [target]);
    const load = startVegeta({
      targetsFile: file,
      concurrency: concurrency.curves,
      durationS: curveSeconds,
      caFile,
      workDir,
      // A page that reads the whole collection can take many seconds at 100k rows: measure it anyway.
      timeoutS: 120,
    });
    const summary = await load.done;
    curves.push({
      curve: name,
      rows,
      page,
      requests: summary.requests,
      p50Ms: round(summary.p50Ms, 2),
      p99Ms: round(summary.p99Ms, 2),
      errors: summary.errors,
    });
    say(
      `  ${name} ${rows} rows, ${page} page: p50 ${round(summary.p50Ms, 2)} ms, p99 ${
        round(summary.p99Ms, 2)
      } ms (${summary.requests} requests, ${summary.errors} errors)`,
    );
  };
  if (wanted("curves")) {
    const history = await signUp(rest, "bench-history");
    const products = await openProductSeeder(label);
    const orders = await openOrderSeeder(label, history.userId);
    try {
      // The product pages measured: unfiltered, and with each filter matching about a tenth of the
      // seeded products (see seededFields()).
      const productLists = [
        { curve: "list_products", filters: "" },
        { curve: "list_products_category", filters: "&category=seed-3" },
        { curve: "list_products_price", filters: "&minPriceMinor=20000&maxPriceMinor=30000" },
        { curve: "list_products_query", filters: "&query=kettle" },
      ];
      const fingerprints = new Map<string, string>();
      /** The filter fingerprint a page token of these filters carries (read from a real first page). */
      const fingerprintOf = async (filters: string) => {
        let found = fingerprints.get(filters);
        if (found === undefined) {
          const first = ok<{ nextPageToken: string }>(
            await rest("GET", `/v1/products?pageSize=20${filters}`),
            `list products${filters}`,
          );
          found = decodeCursor(first.nextPageToken).f ?? "";
          fingerprints.set(filters, found);
        }
        return found;
      };
      // Orders first: a product page at 100k rows takes tens of seconds on FerretDB, and what a timeout
      // there sets off must not spoil the other curve.
      const auth = { authorization: [`Bearer ${history.accessToken}`] };
      for (const rows of curveSizes) {
        const orderSeconds = await orders.seedTo(rows);
        notes.push(`seeding ${rows} orders: ${orderSeconds.toFixed(1)} s`);
        await curve("list_orders", rows, "first", {
          method: "GET",
          url: `${stack.url}/v1/orders?pageSize=20`,
          header: auth,
        });
        await curve("list_orders", rows, "deep", {
          method: "GET",
          url: `${stack.url}/v1/orders?pageSize=20&pageToken=${await orders.tokenAfter(rows - 20)}`,
          header: auth,
        });
        await save();
      }
      for (const rows of curveSizes) {
        say(`seeding ${rows} products [${seconds()}]`);
        const productSeconds = await products.seedTo(rows);
        notes.push(`seeding ${rows} products: ${productSeconds.toFixed(1)} s`);
        for (const list of productLists) {
          await curve(list.curve, rows, "first", {
            method: "GET",
            url: `${stack.url}/v1/products?pageSize=20${list.filters}`,
          });
          const token = products.tokenAfter(rows - 201, await fingerprintOf(list.filters));
          await curve(list.curve, rows, "deep", {
            method: "GET",
            url: `${stack.url}/v1/products?pageSize=20${list.filters}&pageToken=${token}`,
          });
          await save();
        }
      }
    } finally {
      await products.close();
      await orders.close();
    }
  }
  metricsClient.close();
  await statements?.close();

  say(`stopping the stack [${seconds()}]`);
  stopping = true;
  // Bounded: a store still busy with work the load left behind must not keep the run from ending (the
  // process groups' watchdogs stop whatever is left once this process exits).
  const stopped = await Promise.race([
    Promise.resolve(stack[Symbol.asyncDispose]()).then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000)),
  ]);
  if (!stopped) notes.push("the stack did not stop within 60 s; its watchdogs stopped the rest");
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  const result = await save();
  console.log(`\n${renderReport(result)}\n`);
  say(`wrote ${outFile} in ${result.totalSeconds} s`);
  if (!stopped) Deno.exit(0);
}

await main();
// Whatever is still open (a reader of a dead child's stderr, a signal listener) must not keep it running.
Deno.exit(0);
