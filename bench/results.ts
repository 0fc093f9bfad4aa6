/**
 * The shapes of a bench run's result file (`bench/results/latest.json`), the parsing of the load tools'
 * JSON reports into one summary shape, the same-run ratios, and the tables printed to the terminal and
 * pasted into the README. Pure: no I/O, so `results_test.ts` covers it without a stack.
 *
 * @module
 */

/** What one load-tool run measured, whichever tool ran it. */
export interface LoadSummary {
  /** Requests sent (successful or not). */
  requests: number;
  /** Successful requests per second over the run. */
  throughput: number;
  /** Latency percentiles over every request, in milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** Requests that failed (non-2xx, transport errors, gRPC status other than OK). */
  errors: number;
  /** Up to a few distinct errors and how often each happened. */
  errorKinds: Record<string, number>;
  /** ghz only: requests in flight when the duration ended, cut off by the tool (not counted above). */
  cutOffAtEnd?: number;
}

/** CPU and memory of one part of the stack (a process and its children) while something ran. */
export interface ProcessUsage {
  /** `product-1`, `postgres` (with its backends), `envoy`, `vegeta`, ... */
  name: string;
  /** CPU time over wall time, in percent of ONE core (200 is both cores of a 2-core machine). */
  cpuPercent: number;
  /** The highest resident set size seen, in MiB. */
  rssMiB: number;
}

/** One load scenario of the run. */
export interface ScenarioResult extends LoadSummary {
  /** A stable key: `health`, `get_grpc`, `get_rest`, `list_rest`, `create_order`, `login`, `get_rest_2`. */
  id: string;
  /** What it calls and how, for the table. */
  title: string;
  /** `deno`: a loop of calls in order that neither tool can drive (bench/cart_load.ts). */
  tool: "ghz" | "vegeta" | "deno";
  concurrency: number;
  durationS: number;
  /** Every part of the stack, and the load tool, during the scenario; busiest first. */
  processes: ProcessUsage[];
  /** Scenario-specific figures (CreateOrder: orders by final status, server time per RPC). */
  extra?: Record<string, unknown>;
}

/** A same-run ratio of two scenarios' throughputs (and median latencies). */
export interface Ratio {
  /** `get_grpc / health`. */
  name: string;
  what: string;
  /** throughput(of) / throughput(to). */
  throughput: number;
  /** p50(of) / p50(to): how many times slower a median request is. */
  p50: number;
}

/** One point of a cost curve: page latency at a table size. */
export interface CurvePoint {
  /** `list_products` or `list_orders`. */
  curve: string;
  rows: number;
  /** `first` page or a `deep` page (the last full page, reached with a keyset token). */
  page: "first" | "deep";
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** The machine a run was made on. */
export interface MachineInfo {
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  /** The 1-minute load average when the run started: other work on a shared machine skews figures. */
  loadAverageAtStart: number;
}

/** The whole result file. */
export interface BenchResult {
  startedAt: string;
  /** Wall time of the run, start to file written, in seconds. */
  totalSeconds: number;
  machine: MachineInfo;
  tools: Record<string, string>;
  /** How the stack was configured for the bench (limits, scrypt cost, product instances). */
  stack: Record<string, unknown>;
  scenarios: ScenarioResult[];
  ratios: Ratio[];
  curves: CurvePoint[];
  footprint: {
    /** RSS of every part of the stack, idle, a few seconds after it was ready. */
    idle: ProcessUsage[];
    /** Seconds from `deno task dev` to Envoy answering and every service healthy; null when skipped. */
    devStartSeconds: number | null;
    devStartNote: string;
    /**
     * PSS and RSS of every process `deno task dev` leaves running, idle, summed by name (absent when the
     * dev start was skipped). PSS counts shared pages once across processes: the sum is the stack's cost.
     */
    devIdleMemory?: MemoryPart[];
    /** Seconds for `startStack()` of the bench's own stack to be ready. */
    benchStackStartSeconds: number;
  };
  notes: string[];
}

/** One named part of a whole stack's memory: every process of that name, summed. */
export interface MemoryPart {
  name: string;
  processes: number;
  pssMiB: number;
  /**
   * Of the PSS, the anonymous pages (heaps, stacks: what the program allocated); the rest is file-backed
   * (its code and libraries), whose share depends on how many processes on the machine map the same file.
   */
  pssAnonMiB?: number;
  rssMiB: number;
}

const nsToMs = (ns: number): number => ns / 1e6;

/** Keeps the `limit` most frequent entries of an error histogram. */
function topErrors(counts: Record<string, number>, limit = 5): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, limit));
}

/**
 * The summary of `vegeta report -type=json` (latencies in nanoseconds; `throughput` counts successes).
 *
 * @example
 * ```ts
 * const summary = parseVegetaReport({
 *   requests: 100, throughput: 9.9, success: 1, errors: [],
 *   latencies: { "50th": 2_000_000, "99th": 9_000_000 }, status_codes: { "200": 100 },
 * });
 * summary.p50Ms; // 2
 * ```
 */
export function parseVegetaReport(report: unknown): LoadSummary {
  const r = report as {
    requests?: number;
    throughput?: number;
    success?: number;
    latencies?: Record<string, number>;
    status_codes?: Record<string, number>;
    errors?: string[] | null;
  };
  if (typeof r !== "object" || r === null || typeof r.requests !== "number" || r.latencies === undefined) {
    throw new Error(`not a vegeta JSON report: ${JSON.stringify(report).slice(0, 200)}`);
  }
  const codes = r.status_codes ?? {};
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  for (const [code, count] of Object.entries(codes)) {
    if (code.startsWith("2")) continue;
    errors += count;
    errorKinds[code === "0" ? "no response" : `HTTP ${code}`] = count;
  }
  // vegeta lists distinct error strings without counts; name them so the kinds are not lost.
  for (const message of r.errors ?? []) {
    errorKinds[message.slice(0, 120)] ??= 0;
  }
  return {
    requests: r.requests,
    throughput: r.throughput ?? 0,
    p50Ms: nsToMs(r.latencies["50th"] ?? 0),
    p99Ms: nsToMs(r.latencies["99th"] ?? 0),
    errors,
    errorKinds: topErrors(errorKinds),
  };
}

/**
 * The summary of `ghz -O json` (times in nanoseconds; `rps` counts every request, so throughput is
 * recomputed from the successful ones).
 *
 * @example
 * ```ts
 * const summary = parseGhzReport({
 *   count: 200, total: 2e9, rps: 100,
 *   latencyDistribution: [{ percentage: 50, latency: 3e6 }, { percentage: 99, latency: 8e6 }],
 *   statusCodeDistribution: { OK: 198, Unavailable: 2 },
 * });
 * summary.throughput; // 99
 * ```
 */
export function parseGhzReport(report: unknown): LoadSummary {
  const r = report as {
    count?: number;
    total?: number;
    latencyDistribution?: Array<{ percentage: number; latency: number }> | null;
    statusCodeDistribution?: Record<string, number>;
    errorDistribution?: Record<string, number> | null;
  };
  if (typeof r !== "object" || r === null || typeof r.count !== "number" || typeof r.total !== "number") {
    throw new Error(`not a ghz JSON report: ${JSON.stringify(report).slice(0, 200)}`);
  }
  const percentile = (p: number) =>
    nsToMs(r.latencyDistribution?.find((entry) => entry.percentage === p)?.latency ?? 0);
  const codes = r.statusCodeDistribution ?? {};
  const ok = codes.OK ?? 0;
  const errorKinds: Record<string, number> = {};
  // When its duration ends, ghz closes the connection under the requests still in flight (one per
  // worker) and counts them as Unavailable "use of closed network connection": cut off by the tool,
  // not failed by the service, so they are counted apart.
  let cutOff = 0;
  for (const [message, count] of Object.entries(r.errorDistribution ?? {})) {
    if (message.includes("use of closed network connection")) cutOff += count;
    else errorKinds[message.slice(0, 120)] = count;
  }
  for (const [code, count] of Object.entries(codes)) {
    const left = code === "Unavailable" ? count - cutOff : count;
    if (code !== "OK" && left > 0) errorKinds[code] = left;
  }
  const seconds = r.total / 1e9;
  return {
    requests: r.count - cutOff,
    throughput: seconds > 0 ? ok / seconds : 0,
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    errors: r.count - cutOff - ok,
    errorKinds: topErrors(errorKinds),
    ...(cutOff > 0 ? { cutOffAtEnd: cutOff } : {}),
  };
}

/**
 * A summary with answers that were 2xx but failed (an order that ended FAILED) counted as errors, and
 * throughput counting only the answers that succeeded.
 *
 * @example
 * ```ts
 * const summary = { requests: 20, throughput: 2, p50Ms: 1, p99Ms: 2, errors: 0, errorKinds: {} };
 * withFailures(summary, { ORDER_STATUS_FAILED: 5 }).throughput; // 1.5
 * ```
 */
export function withFailures(summary: LoadSummary, failures: Record<string, number>): LoadSummary {
  const failed = Object.values(failures).reduce((sum, n) => sum + n, 0);
  const succeeded = summary.requests - summary.errors;
  if (failed === 0 || succeeded <= 0) return summary;
  return {
    ...summary,
    throughput: summary.throughput * Math.max(succeeded - failed, 0) / succeeded,
    errors: summary.errors + failed,
    errorKinds: topErrors({ ...summary.errorKinds, ...failures }),
  };
}

/**
 * `of / to` for throughput and median latency, both from the same run; undefined when a side is missing
 * or measured nothing.
 *
 * @example
 * ```ts
 * const health = { id: "health", throughput: 1000, p50Ms: 1 };
 * const get = { id: "get_grpc", throughput: 500, p50Ms: 2 };
 * ratioOf("get_grpc / health", "GetProduct gRPC vs Health", get, health)?.throughput; // 0.5
 * ```
 */
export function ratioOf(
  name: string,
  what: string,
  of: Pick<ScenarioResult, "throughput" | "p50Ms"> | undefined,
  to: Pick<ScenarioResult, "throughput" | "p50Ms"> | undefined,
): Ratio | undefined {
  if (of === undefined || to === undefined || to.throughput <= 0 || to.p50Ms <= 0) return undefined;
  return {
    name,
    what,
    throughput: round(of.throughput / to.throughput, 3),
    p50: round(of.p50Ms / to.p50Ms, 2),
  };
}

/**
 * The ratios the issue asks for, from a run's scenarios (those that ran).
 *
 * @example
 * ```ts ignore
 * const ratios = standardRatios(result.scenarios);
 * ```
 */
export function standardRatios(scenarios: ScenarioResult[]): Ratio[] {
  const by = (id: string) => scenarios.find((s) => s.id === id);
  return [
    ratioOf("get_grpc / health", "GetProduct over gRPC vs the runtime ceiling", by("get_grpc"), by("health")),
    ratioOf(
      "get_rest / get_grpc",
      "the gateway's cost: REST via Envoy vs direct gRPC",
      by("get_rest"),
      by("get_grpc"),
    ),
    ratioOf(
      "list_rest / get_rest",
      "ListProducts (20) vs GetProduct, both via Envoy",
      by("list_rest"),
      by("get_rest"),
    ),
    ratioOf(
      "create_order / get_rest",
      "CreateOrder (whole saga) vs GetProduct via Envoy",
      by("create_order"),
      by("get_rest"),
    ),
    ratioOf(
      "create_order_history / get_rest",
      "CreateOrder with a history (5b) vs GetProduct via Envoy",
      by("create_order_history"),
      by("get_rest"),
    ),
    ratioOf(
      "create_order_history / create_order",
      "CreateOrder with a history (5b) vs on a fresh store: flat when near 1",
      by("create_order_history"),
      by("create_order"),
    ),
    ratioOf("login / get_rest", "Login (scrypt N=2^15) vs GetProduct via Envoy", by("login"), by("get_rest")),
    ratioOf(
      "get_rest_2 / get_rest",
      "GetProduct via Envoy: two product instances vs one",
      by("get_rest_2"),
      by("get_rest"),
    ),
  ].filter((r): r is Ratio => r !== undefined);
}

/**
 * Rounds to `digits` decimals.
 *
 * @example
 * ```ts
 * round(1.23456, 2); // 1.23
 * ```
 */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Formats a number for a table: integers above 100, one decimal below, two below 1. */
function num(value: number): string {
  if (value >= 100) return String(Math.round(value));
  if (value >= 1) return value.toFixed(1);
  return value.toFixed(2);
}

/**
 * A Markdown table (also readable as plain text in a terminal).
 *
 * @example
 * ```ts
 * markdownTable(["a", "b"], [["1", "2"]]);
 * // "| a | b |\n| - | - |\n| 1 | 2 |"
 * ```
 */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The `n` busiest processes of a scenario, as `product-1 98% 140M`. */
function busiest(processes: ProcessUsage[], n = 3): string {
  return processes.slice(0, n).map((p) => `${p.name} ${Math.round(p.cpuPercent)}%`).join(", ");
}

/**
 * The tables of a run: scenarios, ratios, cost curves, footprint.
 *
 * @example
 * ```ts ignore
 * console.log(renderReport(result));
 * ```
 */
export function renderReport(result: BenchResult): string {
  const out: string[] = [];
  out.push(markdownTable(
    ["scenario", "tool", "conc", "req/s", "p50 ms", "p99 ms", "errors", "busiest (CPU, 100% = 1 core)"],
    result.scenarios.map((s) => [
      s.title,
      s.tool,
      String(s.concurrency),
      num(s.throughput),
      num(s.p50Ms),
      num(s.p99Ms),
      `${s.errors}/${s.requests}`,
      busiest(s.processes),
    ]),
  ));
  out.push("");
  out.push(markdownTable(
    ["ratio", "throughput", "p50", "meaning"],
    result.ratios.map((r) => [r.name, r.throughput.toFixed(3), `${r.p50.toFixed(2)}x`, r.what]),
  ));
  if (result.curves.length > 0) {
    out.push("");
    const keys = [...new Set(result.curves.map((c) => `${c.curve} ${c.page}`))];
    const sizes = [...new Set(result.curves.map((c) => c.rows))].sort((a, b) => a - b);
    out.push(markdownTable(
      ["page latency p50 / p99 ms", ...sizes.map((s) => `${s.toLocaleString("en")} rows`)],
      keys.map((key) => [
        key,
        ...sizes.map((rows) => {
          const point = result.curves.find((c) => `${c.curve} ${c.page}` === key && c.rows === rows);
          return point === undefined
            ? "-"
            : `${num(point.p50Ms)} / ${num(point.p99Ms)}${point.errors > 0 ? ` (${point.errors} err)` : ""}`;
        }),
      ]),
    ));
  }
  out.push("");
  const f = result.footprint;
  out.push(markdownTable(
    ["idle process", "RSS MiB"],
    f.idle.map((p) => [p.name, String(Math.round(p.rssMiB))]).concat([[
      "total",
      String(Math.round(f.idle.reduce((sum, p) => sum + p.rssMiB, 0))),
    ]]),
  ));
  if (f.devIdleMemory !== undefined) {
    out.push("");
    out.push(devMemoryTable(f.devIdleMemory));
  }
  out.push("");
  out.push(
    `deno task dev to all healthy: ${
      f.devStartSeconds === null ? "-" : `${f.devStartSeconds.toFixed(1)} s`
    }` +
      `${f.devStartNote === "" ? "" : ` (${f.devStartNote})`}; bench stack ready in ${
        f.benchStackStartSeconds.toFixed(1)
      } s`,
  );
  const m = result.machine;
  out.push(
    `machine: ${m.nproc} cores, ${
      m.memoryGiB.toFixed(1)
    } GiB, ${m.cpuModel}; load average at start ${m.loadAverageAtStart}; ` +
      `run took ${Math.round(result.totalSeconds)} s`,
  );
  return out.join("\n");
}

/**
 * The dev stack's idle memory as a Markdown table: a row per program (processes of one name summed), the
 * total, and the total without what tracing and the storefront add (Jaeger; the web build is static);
 * with the anonymous part of each PSS when every part has it.
 *
 * @example
 * ```ts
 * devMemoryTable([{ name: "postgres", processes: 8, pssMiB: 80.5, rssMiB: 210 }]);
 * ```
 */
export function devMemoryTable(parts: readonly MemoryPart[]): string {
  const anon = parts.length > 0 && parts.every((part) => part.pssAnonMiB !== undefined);
  const total = (list: readonly MemoryPart[], key: "pssMiB" | "pssAnonMiB" | "rssMiB") =>
    String(Math.round(list.reduce((sum, part) => sum + (part[key] ?? 0), 0)));
  const totalRow = (name: string, list: readonly MemoryPart[]) => [
    name,
    String(list.reduce((n, p) => n + p.processes, 0)),
    total(list, "pssMiB"),
    ...(anon ? [total(list, "pssAnonMiB")] : []),
    total(list, "rssMiB"),
  ];
  const rows = parts.map((p) => [
    p.name,
    String(p.processes),
    p.pssMiB.toFixed(1),
    ...(anon ? [(p.pssAnonMiB ?? 0).toFixed(1)] : []),
    String(Math.round(p.rssMiB)),
  ]);
  const tracing = parts.filter((p) => tracingParts.has(p.name));
  rows.push(totalRow("total", parts));
  if (tracing.length > 0) {
    rows.push(totalRow("total without tracing (jaeger)", parts.filter((p) => !tracingParts.has(p.name))));
  }
  return markdownTable(
    ["deno task dev, idle", "processes", "PSS MiB", ...(anon ? ["of it anonymous"] : []), "RSS MiB"],
    rows,
  );
}

/** What tracing adds to the dev stack, reported on its own line. */
const tracingParts = new Set(["jaeger"]);
