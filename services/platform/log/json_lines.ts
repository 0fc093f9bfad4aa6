import type { LogRecord } from "@logtape/logtape";

/** Property names whose values never reach a log line (passwords, tokens, keys, card data). */
const sensitiveKey = /pass(word)?|secret|token|authorization|cookie|api_?key|private_?key|card/i;

/** Fields every line of one process carries. */
export interface LineIdentity {
  /** The service name, for example `user`. */
  service: string;
  /** This process's instance id (unique per start). */
  instance: string;
}

function serializeError(error: Error, depth = 0): Record<string, unknown> {
  const shown: Record<string, unknown> = { name: error.name, message: error.message };
  if (error.stack) shown.stack = error.stack;
  if (error.cause !== undefined && depth < 3) {
    shown.cause = error.cause instanceof Error ? serializeError(error.cause, depth + 1) : String(error.cause);
  }
  return shown;
}

function safeValue(key: string, value: unknown): unknown {
  if (sensitiveKey.test(key)) return "<redacted>";
  if (value instanceof Error) return serializeError(value);
  if (typeof value === "bigint") return value.toString();
  return value;
}

function renderPart(part: unknown): string {
  if (typeof part === "string") return part;
  if (part instanceof Error) return part.message;
  return JSON.stringify(part, (_key, value) => typeof value === "bigint" ? value.toString() : value) ?? "";
}

/**
 * Formats a LogTape record as one JSON line: `time`, `level`, `service`, `instance`, `logger`, `message`,
 * then the record's properties (the request id among them, from the implicit context), with errors
 * serialized with their causes and any property that looks like a secret replaced by `"<redacted>"`.
 *
 * @example
 * ```ts
 * const format = jsonLinesFormatter({ service: "user", instance: "user-1" });
 * ```
 */
export function jsonLinesFormatter(identity: LineIdentity): (record: LogRecord) => string {
  return (record) => {
    const line: Record<string, unknown> = {
      time: new Date(record.timestamp).toISOString(),
      level: record.level,
      service: identity.service,
      instance: identity.instance,
      logger: record.category.join("."),
      message: record.message.map(renderPart).join(""),
    };
    for (const [key, value] of Object.entries(record.properties)) {
      if (!(key in line)) line[key] = safeValue(key, value);
    }
    return `${JSON.stringify(line, (key, value) => key === "" ? value : safeValue(key, value))}\n`;
  };
}
