// deno-lint-ignore-file no-console -- a script: what it prints is its interface
/**
 * `deno task stress`: the bounded crash hunt of issue 21. Starts a stack of its own (`e2e/stack.ts`, the
 * bench's wiring, on free ports, with its own PostgreSQL, FerretDB and etcd so that it may freeze them),
 * then for `--duration` seconds drives it the way the bench did when services died: reads and orders
 * through the gateway with tiny deadlines, bursts of many HTTP/2 streams on one connection straight to
 * the product service, cancelled mid-flight, with the connection closed under them, a client that sends
 * GOAWAY with an error code mid-stream, and a slow store (FerretDB, then PostgreSQL, frozen with SIGSTOP
 * for `--pause-ms` every `--pause-every` seconds). Core dumps are on (scripts/stress runs this under
 * `ulimit -c unlimited`; the run's directory is the working directory of every process, so a `core` lands
 * there and is renamed after the process it came from); every service's stderr is kept in a file. At the
 * end it prints how each process ended (a signal is a crash) and what the drivers saw.
 *
 * Flags: `--duration=S` (120), `--pause-every=S` (15), `--pause-ms=MS` (2500), `--readers=N` (16),
 * `--orderers=N` (8), `--streams=N` (streams per burst on one connection, 200), `--no-rude-client`,
 * `--no-close` (never close the direct connection mid-burst), `--cancel-share=X` (the share of direct
 * streams cancelled, 0.6), `--drivers=reads,orders,direct,stores` (just these loads; all unless given), `--seed=N`, `--dir=PATH`
 * (a new directory under /tmp unless given).
 *
 * @module
 */
import { TEST_SERVER_ENV } from "@shop/platform/testing";
import { readTlsFiles } from "@shop/platform/tls";
import { type StackInstance, stackServices, startStack } from "../e2e/stack.ts";
import { address, ok, type Product, restClient, signIn, signUp } from "../e2e/rest.ts";
import { findStackProcesses } from "../bench/procs.ts";
import { directStreams, type DriveContext, gatewayOrders, gatewayReads } from "./drivers.ts";
import { type ProcessEnd, renderStressReport } from "./report.ts";
import { pauseStores, type Store } from "./store_pauser.ts";
import { Tally } from "./tally.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const flags = new Map(Deno.args.map((arg) => {
  const [key = "", value = "true"] = arg.replace(/^--/, "").split("=");
  return [key, value];
}));
const durationS = Number(flags.get("duration") ?? 120);
const pauseEveryMs = Number(flags.get("pause-every") ?? 15) * 1000;
const pauseMs = Number(flags.get("pause-ms") ?? 2500);
const readers = Number(flags.get("readers") ?? 16);
const orderers = Number(flags.get("orderers") ?? 8);
const streamsPerBurst = Number(flags.get("streams") ?? 200);
const seed = Number(flags.get("seed") ?? Date.now() % 100_000);
const drivers = flags.get("drivers")?.split(",");
const driving = (name: string) => drivers === undefined || drivers.includes(name);
const say = (message: string) => console.log(`stress: ${message}`);

/** mulberry32: a small seeded generator, so that a run's choices can be repeated with `--seed`. */
function seeded(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines of the kernel log about deno, envoy or the stores that are not in `before`. */
async function kernelLines(before: Set<string>): Promise<string[]> {
  const out = await new Deno.Command("dmesg", { stdout: "piped", stderr: "null" }).output().catch(() => null);
  if (out === null || !out.success) return [];
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((line) => /segfault|traps:|general protection/.test(line) && !before.has(line));
}

async function main(): Promise<void> {
  // Its own servers (as the bench): FerretDB and PostgreSQL are frozen, which must not touch anyone else's.
  for (const name of Object.values(TEST_SERVER_ENV)) Deno.env.delete(name);
  const runDir = flags.get("dir") ?? await Deno.makeTempDir({ prefix: "shop-stress-" });
  await Deno.mkdir(runDir, { recursive: true });
  // Every process started from here on works in the run directory: a core dump lands there.
  Deno.chdir(runDir);
  const kernelBefore = new Set(await kernelLines(new Set()));
  say(`seed ${seed}; files in ${runDir}; starting the stack`);

  await using stack = await startStack({ label: "stress", readyTimeoutMs: 180_000 });
  const ends = new Map<number, ProcessEnd>();
  let loadStarted = performance.now();
  let stopping = false;
  const keepStderr = async (name: string, pid: number, text: string) => {
    const file = `${runDir}/${name}.${pid}.stderr`;
    await Deno.writeTextFile(file, text);
    return { stderrFile: file, stderrBytes: new TextEncoder().encode(text).byteLength };
  };
  const keepCore = async (name: string, pid: number): Promise<string | undefined> => {
    // The kernel writes `core` in the process's working directory; give it the process's name.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const target = `${runDir}/core.${name}.${pid}`;
    return await Deno.rename(`${runDir}/core`, target).then(() => target, () => undefined);
  };
  const watch = (instance: StackInstance) => {
    const pid = instance.process.child.pid;
    ends.set(pid, { name: instance.name, pid, alive: true });
    void instance.process.child.status.then(async (status) => {
      if (stopping) return;
      const atSecond = Math.round((performance.now() - loadStarted) / 1000);
      const coreFile = status.signal ? await keepCore(instance.name, pid) : undefined;
      const kept = await keepStderr(instance.name, pid, instance.process.stderr());
      ends.set(pid, {
        name: instance.name,
        pid,
        alive: false,
        code: status.code,
        signal: status.signal,
        atSecond,
        ...kept,
        ...(coreFile === undefined ? {} : { coreFile }),
      });
      say(
        `${instance.name} (pid ${pid}) ended: code ${status.code}, signal ${status.signal} at ${atSecond} s`,
      );
    });
  };
  for (const service of stackServices) stack.instances(service).forEach(watch);

  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const productIds: string[] = [];
  for (let i = 0; i < 10; i++) {
    const { product } = ok<{ product: Product }>(
      await rest("POST", "/v1/products", {
        token: admin.accessToken,
        body: {
          sku: `STRESS-${i}`,
          name: `Stress product ${i}`,
          description: "stock for the stress run",
          category: "stress",
          price: { currencyCode: "USD", amountMinor: "999" },
          stock: 1_000_000,
        },
      }),
      "create a stress product",
    );
    productIds.push(product.id);
  }
  const buyers = await Promise.all([0, 1, 2, 3].map((i) => signUp(rest, `stress-buyer-${i}`)));
  const product = stack.instances("product")[0];
  if (product === undefined) throw new Error("the stack runs no product instance");
  const gatewayTls = await readTlsFiles(stack.certsDir, "gateway");
  const makeClient = () =>
    Deno.createHttpClient({ caCerts: [gatewayTls.ca], cert: gatewayTls.cert, key: gatewayTls.key });

  const stores: Store[] = findStackProcesses()
    .filter((p) => p.name === "ferretdb" || p.name === "postgres")
    .map((p) => ({ name: p.name, pid: p.pid }));
  say(`stores to freeze: ${stores.map((s) => `${s.name} ${s.pid}`).join(", ") || "none found"}`);

  const tally = new Tally();
  loadStarted = performance.now();
  const until = loadStarted + durationS * 1000;
  const context: DriveContext = { tally, until, random: seeded(seed) };
  const interrupted = new AbortController();
  Deno.addSignalListener("SIGINT", () => interrupted.abort());
  say(`drivers: ${drivers?.join(", ") ?? "all"}`);
  say(
    `${durationS} s of load: ${readers} readers and ${orderers} orderers through the gateway, ` +
      `${streamsPerBurst} streams per burst on one connection to ${product.name}, stores frozen ${pauseMs} ms ` +
      `every ${pauseEveryMs / 1000} s${
        flags.has("no-rude-client") ? "" : ", a client sending GOAWAY mid-stream"
      }`,
  );
  const rude = flags.has("no-rude-client") ? undefined : new Deno.Command("bash", {
    args: [
      "-c",
      `exec "${Deno.execPath()}" run -A "${root}/stress/rude_client.ts" --url=${product.url} ` +
      `--certs=${stack.certsDir} --seconds=${durationS} 2>"${runDir}/rude-client.stderr"`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const clients = [stack.client(), stack.client()];
  const [readClient = stack.client(), orderClient = stack.client()] = clients;
  const [, , , paused] = await Promise.all([
    driving("reads") &&
    gatewayReads(context, { baseUrl: stack.url, client: readClient, productIds, workers: readers }),
    driving("orders") && gatewayOrders(context, {
      baseUrl: stack.url,
      client: orderClient,
      productIds,
      tokens: buyers.map((b) => b.accessToken),
      shippingAddress: address,
      workers: orderers,
    }),
    driving("direct") &&
    directStreams(context, {
      serviceUrl: product.url,
      makeClient,
      productIds,
      streamsPerBurst,
      closeMidBurst: !flags.has("no-close"),
      cancelShare: Number(flags.get("cancel-share") ?? 0.6),
    }),
    driving("stores") &&
    pauseStores(stores, { until, everyMs: pauseEveryMs, pauseMs, signal: interrupted.signal }),
  ]);
  const seconds = Math.round((performance.now() - loadStarted) / 1000);
  const rudeEnd: ProcessEnd[] = [];
  if (rude !== undefined) {
    const status = await rude.status;
    rudeEnd.push({
      name: "rude-client",
      pid: rude.pid,
      alive: false,
      code: status.code,
      signal: status.signal,
    });
  }
  // Let the last crashes be seen before the stack stops.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  stopping = true;
  for (const [pid, end] of ends) {
    const instance = stackServices.flatMap((s) => stack.instances(s)).find((i) =>
      i.process.child.pid === pid
    );
    if (end.alive && instance !== undefined) {
      ends.set(pid, { ...end, ...await keepStderr(end.name, pid, instance.process.stderr()) });
    }
  }
  const report = renderStressReport({
    seconds,
    runDir,
    processes: [...ends.values(), ...rudeEnd],
    outcomes: tally.outcomes(),
    pauses: paused || [],
    kernel: await kernelLines(kernelBefore),
  });
  await Deno.writeTextFile(`${runDir}/report.md`, report + "\n");
  console.log(`\n${report}\n`);
  say(`stopping the stack; the report is in ${runDir}/report.md`);
}

await main();
// A reader of a dead child's pipe or a signal listener must not keep the run alive.
Deno.exit(0);
