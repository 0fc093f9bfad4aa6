/**
 * The stress run's report: how every process ended (a signal is the finding), what the drivers saw, and
 * what the store pauser did. Pure, so that it is tested without a stack.
 *
 * @module
 */
import type { Outcomes } from "./tally.ts";

/** How one process of the run ended, or that it was still alive when the run ended. */
export interface ProcessEnd {
  /** `product-1`, `order-1`, `rude-client`. */
  name: string;
  pid: number;
  /** Still serving when the load stopped (then stopped by the run). */
  alive: boolean;
  /** Its exit code, when it exited by itself. */
  code?: number | null;
  /** The signal that ended it (`SIGSEGV`, `SIGABRT`, ...), when one did. */
  signal?: string | null;
  /** Seconds into the load when it ended. */
  atSecond?: number;
  /** Where its stderr was kept, and its size in bytes. */
  stderrFile?: string;
  stderrBytes?: number;
  /** The core dump kept for it, if the kernel wrote one. */
  coreFile?: string;
}

/** Everything the report shows. */
export interface StressReport {
  seconds: number;
  runDir: string;
  processes: ProcessEnd[];
  outcomes: Outcomes;
  pauses: string[];
  /** Lines of the kernel log about our processes (segfaults, traps) that appeared during the run. */
  kernel: string[];
}

/**
 * A process that ended of a signal it did not ask for: a crash (SIGTERM and SIGKILL are the run's own).
 *
 * @example
 * ```ts
 * crashed({ name: "product-1", pid: 7, alive: false, signal: "SIGSEGV" }); // true
 * ```
 */
export function crashed(end: ProcessEnd): boolean {
  return !end.alive && end.signal !== undefined && end.signal !== null && end.signal !== "SIGTERM" &&
    end.signal !== "SIGKILL";
}

function status(end: ProcessEnd): string {
  if (end.alive) return "alive at the end";
  if (end.signal) {
    return `killed by ${end.signal}${end.atSecond === undefined ? "" : ` at ${end.atSecond} s`}`;
  }
  return `exited with code ${end.code ?? "?"}${end.atSecond === undefined ? "" : ` at ${end.atSecond} s`}`;
}

/**
 * The report as Markdown: a table of processes, a table of outcomes, the pauses, the kernel lines, and a
 * one-line verdict.
 *
 * @example
 * ```ts
 * renderStressReport({ seconds: 1, runDir: "/tmp/x", processes: [], outcomes: {}, pauses: [], kernel: [] });
 * ```
 */
export function renderStressReport(report: StressReport): string {
  const lines = [
    `## Stress run: ${report.seconds} s of load, files in ${report.runDir}`,
    "",
    "| process | pid | end | stderr | core |",
    "| --- | --- | --- | --- | --- |",
    ...report.processes.map((p) =>
      `| ${p.name} | ${p.pid} | ${status(p)} | ${p.stderrBytes ?? 0} B | ${p.coreFile ?? "-"} |`
    ),
    "",
    "| driver | outcomes |",
    "| --- | --- |",
    ...Object.entries(report.outcomes).map(([driver, kinds]) =>
      `| ${driver} | ${
        Object.entries(kinds).sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind}: ${n}`).join(", ")
      } |`
    ),
    "",
    `Stores frozen: ${report.pauses.length === 0 ? "none" : report.pauses.join("; ")}`,
  ];
  if (report.kernel.length > 0) lines.push("", "Kernel log:", ...report.kernel.map((line) => `    ${line}`));
  const crashes = report.processes.filter(crashed);
  lines.push(
    "",
    crashes.length === 0
      ? "Verdict: no process crashed."
      : `Verdict: ${crashes.length} process(es) crashed: ${
        crashes.map((p) => `${p.name} (${p.signal})`).join(", ")
      }.`,
  );
  return lines.join("\n");
}
