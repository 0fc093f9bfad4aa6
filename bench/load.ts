/**
 * Runs the load tools at a fixed concurrency for a fixed time, each as a child process whose CPU and
 * memory are sampled with the stack's: ghz (gRPC, mTLS, direct to a service) and vegeta (HTTP through
 * Envoy). Both are installed by `scripts/setup-bench` into the tool cache, pinned in
 * `scripts/lib/versions.env`.
 *
 * @module
 */
import { toolsDir } from "@shop/platform/testing";
import { type LoadSummary, parseGhzReport, parseVegetaReport } from "./results.ts";

/** The load tools of the bench. */
export type LoadTool = "vegeta" | "ghz";

const versionKeys: Record<LoadTool, string> = { vegeta: "VEGETA_VERSION", ghz: "GHZ_VERSION" };

/**
 * The pinned version of a load tool, from `scripts/lib/versions.env`.
 *
 * @example
 * ```ts ignore
 * loadToolVersion("ghz"); // "0.120.0"
 * ```
 */
export function loadToolVersion(tool: LoadTool): string {
  const text = Deno.readTextFileSync(new URL("../scripts/lib/versions.env", import.meta.url));
  const key = versionKeys[tool];
  const version = text.split("\n").find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1).trim();
  if (version === undefined || version === "") {
    throw new Error(`${key} is missing from scripts/lib/versions.env`);
  }
  return version;
}

/**
 * The path of an installed load tool, or an error that says how to install it.
 *
 * @example
 * ```ts ignore
 * loadToolPath("vegeta"); // ~/.cache/shop/tools/vegeta-12.13.0/bin/vegeta
 * ```
 */
export function loadToolPath(tool: LoadTool): string {
  const path = `${toolsDir()}/${tool}-${loadToolVersion(tool)}/bin/${tool}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${tool} is not installed (no ${path}): run \`bash scripts/setup-bench\``);
  }
  return path;
}

/** What a running load tool offers while it runs: its pid (to sample) and its end. */
export interface RunningLoad {
  pid: number;
  done: Promise<LoadSummary>;
}

async function run(command: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${what} failed (${out.code}): ${new TextDecoder().decode(out.stderr).slice(-600)}`);
  }
  return stdout;
}

/** Options of {@linkcode startGhz}. */
export interface GhzOptions {
  /** `127.0.0.1:PORT` of the service. */
  address: string;
  /** `package.Service/Method`. */
  call: string;
  /** The request as JSON. */
  data: unknown;
  concurrency: number;
  durationS: number;
  /** The dev certificates directory and the identity to present (`client`, `gateway`, ...). */
  certsDir: string;
  identity: string;
  /** A protoset with the method (else ghz asks the server by reflection). */
  protoset?: string;
  /** A scratch directory for the report. */
  workDir: string;
}

/**
 * Starts ghz against one service over mTLS, closed loop: `concurrency` workers on one connection, each
 * sending the next request when the last one answered, for `durationS` seconds.
 *
 * @example
 * ```ts ignore
 * const load = startGhz({ address: "127.0.0.1:50052", call: "grpc.health.v1.Health/Check", data: {},
 *   concurrency: 16, durationS: 10, certsDir, identity: "client", workDir });
 * const summary = await load.done;
 * ```
 */
export function startGhz(options: GhzOptions): RunningLoad {
  const out = `${options.workDir}/ghz-${crypto.randomUUID().slice(0, 8)}.json`;
  const args = [
    `--cacert=${options.certsDir}/ca.crt`,
    `--cert=${options.certsDir}/${options.identity}.crt`,
    `--key=${options.certsDir}/${options.identity}.key`,
    `--call=${options.call}`,
    `--data=${JSON.stringify(options.data)}`,
    `--concurrency=${options.concurrency}`,
    "--connections=1",
    `--duration=${options.durationS}s`,
    // Without a count, ghz stops at 200 requests; the duration is the bound that counts.
    "--total=100000000",
    "--timeout=20s",
    "--format=json",
    `--output=${out}`,
    ...(options.protoset === undefined ? [] : [`--protoset=${options.protoset}`]),
    options.address,
  ];
  const child = new Deno.Command(loadToolPath("ghz"), {
    args,
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  })
    .spawn();
  const done = (async () => {
    const status = await child.output();
    const text = await Deno.readTextFile(out).catch(() => "");
    // ghz exits 1 when some requests failed; the report is still written and counts them.
    if (text === "") {
      throw new Error(
        `ghz ${options.call} failed (${status.code}): ${new TextDecoder().decode(status.stderr)}`,
      );
    }
    await Deno.remove(out).catch(() => {});
    return parseGhzReport(JSON.parse(text));
  })();
  return { pid: child.pid, done };
}

/** One HTTP request of a vegeta JSON target file. */
export interface VegetaTarget {
  method: string;
  url: string;
  header?: Record<string, string[]>;
  body?: string;
}

/**
 * A line of vegeta's JSON target format (the body base64).
 *
 * @example
 * ```ts
 * vegetaTargetLine({ method: "GET", url: "https://127.0.0.1:8443/v1/products" });
 * // '{"method":"GET","url":"https://127.0.0.1:8443/v1/products"}'
 * ```
 */
export function vegetaTargetLine(target: VegetaTarget): string {
  const { body, ...rest } = target;
  if (body === undefined) return JSON.stringify(rest);
  const bytes = new TextEncoder().encode(body);
  return JSON.stringify({ ...rest, body: btoa(String.fromCharCode(...bytes)) });
}

/** Options of {@linkcode startVegeta}. */
export interface VegetaOptions {
  /** A file of JSON targets (one per line), sent in order; with `lazy`, each at most once. */
  targetsFile: string;
  concurrency: number;
  durationS: number;
  /** The CA to trust (the dev CA for Envoy's certificate). */
  caFile: string;
  /** Read targets as they are needed and stop when they run out (unique bodies: never repeated). */
  lazy?: boolean;
  /** Per-request timeout in seconds (30). */
  timeoutS?: number;
  workDir: string;
  /** Keep the raw results (to read bodies): their path is given to `onResults` before they are removed. */
  onResults?: (resultsFile: string) => Promise<void>;
}

/**
 * Starts vegeta closed loop: `-rate=0` with exactly `concurrency` workers, each sending the next request
 * when the last one answered, for `durationS` seconds, over HTTP/2 with TLS.
 *
 * @example
 * ```ts ignore
 * const load = startVegeta({ targetsFile, concurrency: 16, durationS: 10, caFile, workDir });
 * const summary = await load.done;
 * ```
 */
export function startVegeta(options: VegetaOptions): RunningLoad {
  const vegeta = loadToolPath("vegeta");
  const results = `${options.workDir}/vegeta-${crypto.randomUUID().slice(0, 8)}.bin`;
  const args = [
    "attack",
    "-format=json",
    `-targets=${options.targetsFile}`,
    ...(options.lazy ? ["-lazy"] : []),
    "-rate=0",
    `-workers=${options.concurrency}`,
    `-max-workers=${options.concurrency}`,
    `-duration=${options.durationS}s`,
    `-root-certs=${options.caFile}`,
    `-timeout=${options.timeoutS ?? 30}s`,
    `-output=${results}`,
  ];
  const child = new Deno.Command(vegeta, { args, stdout: "null", stderr: "piped", stdin: "null" }).spawn();
  const done = (async () => {
    const status = await child.output();
    if (!status.success) {
      throw new Error(`vegeta attack failed (${status.code}): ${new TextDecoder().decode(status.stderr)}`);
    }
    try {
      const report = await run(vegeta, ["report", "-type=json", results], "vegeta report");
      if (options.onResults) await options.onResults(results);
      return parseVegetaReport(JSON.parse(report));
    } finally {
      await Deno.remove(results).catch(() => {});
    }
  })();
  return { pid: child.pid, done };
}

/**
 * The responses of a vegeta results file: status, body decoded, latency (`vegeta encode --to=json`).
 *
 * @example
 * ```ts ignore
 * const bodies = await vegetaBodies(resultsFile);
 * ```
 */
export async function vegetaBodies(
  resultsFile: string,
): Promise<Array<{ code: number; body: string; latencyMs: number }>> {
  const text = await run(loadToolPath("vegeta"), ["encode", "--to=json", resultsFile], "vegeta encode");
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const hit = JSON.parse(line) as { code: number; body?: string; latency?: number };
    const bytes = Uint8Array.from(atob(hit.body ?? ""), (c) => c.charCodeAt(0));
    return { code: hit.code, body: new TextDecoder().decode(bytes), latencyMs: (hit.latency ?? 0) / 1e6 };
  });
}
