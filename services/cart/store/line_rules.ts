/**
 * The one decision both stores make on a write (the Redis store makes it in Lua, `redis_cart_store.ts`,
 * and its contract suite holds the two to the same answers).
 *
 * @module
 */
import type { LineLimits, WriteOutcome } from "../domain/ports.ts";

/** A write to make, or a refusal. */
export type Decision = { kind: "write"; quantity: number } | Exclude<WriteOutcome, { kind: "ok" }>;

/**
 * What a write does to a line: its new quantity (0 removes it), or which limit refuses it.
 *
 * @example
 * ```ts
 * decide(98, 3, 5, { maxLines: 100, maxQuantity: 100 }, "add"); // { kind: "line_too_large", current: 98 }
 * ```
 */
export function decide(
  current: number | undefined,
  lineCount: number,
  quantity: number,
  limits: LineLimits,
  mode: "add" | "set",
): Decision {
  const next = mode === "add" ? (current ?? 0) + quantity : quantity;
  if (current === undefined && next > 0 && lineCount >= limits.maxLines) return { kind: "too_many_lines" };
  if (next > limits.maxQuantity) return { kind: "line_too_large", current: current ?? 0 };
  return { kind: "write", quantity: next };
}
