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

/** An e-mail address: personal data, so only its domain is kept (`<email>@example.com`). */
const emailAddress = /[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})/g;
/** A JWT (three base64url parts, the first two JSON objects): a bearer credential. */
const jwtLike = /eyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g;

/**
 * Masks personal data and credentials that slipped into free text (a message, an error text): e-mail
 * addresses keep their domain only, anything shaped like a JWT becomes `<jwt>`. A safety net: the rule
 * is still not to log them.
 *
 * @example
 * ```ts
 * maskText("no user ann@example.com"); // "no user <email>@example.com"
 * ```
 */
export function maskText(text: string): string {
  return text.replace(emailAddress, "<email>@$1").replace(jwtLike, "<jwt>");
}

function safeValue(key: string, value: unknown): unknown {
  if (sensitiveKey.test(key)) return "<redacted>";
  if (value instanceof Error) return serializeError(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return maskText(value);
  return value;
}

/** The placeholder names of a message template, in order (`"{a} and {b}"` -> `["a", "b"]`). */
function placeholders(raw: string | TemplateStringsArray): string[] {
  if (typeof raw !== "string") return [];
  return [...raw.replaceAll("{{", "").replaceAll("}}", "").matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? "");
}

/** The message with each value whose placeholder names a secret redacted, and free text masked. */
function renderMessage(record: LogRecord): string {
  const names = placeholders(record.rawMessage);
  const parts = record.message.map((part, index) => {
    // Odd positions are the values of the placeholders, in order.
    const name = index % 2 === 1 ? names[(index - 1) / 2] : undefined;
    if (name !== undefined && sensitiveKey.test(name)) return "<redacted>";
    return renderPart(part);
  });
  return maskText(parts.join(""));
}

function renderPart(part: unknown): string {
  if (typeof part === "string") return part;
  if (part instanceof Error) return part.message;
  return JSON.stringify(part, (_key, value) => typeof value === "bigint" ? value.toString() : value) ?? "";
}

/**
 * Formats a LogTape record as one JSON line: `time`, `level`, `service`, `instance`, `logger`, `message`,
 * then the record's properties (the request id among them, from the implicit context), with errors
 * serialized with their causes and any property that looks like a secret replaced by `"<redacted>"`
 * (in the message too, where a placeholder names one); e-mail addresses and JWTs in any text are masked
 * ({@linkcode maskText}).
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
      message: renderMessage(record),
    };
    for (const [key, value] of Object.entries(record.properties)) {
      if (!(key in line)) line[key] = safeValue(key, value);
    }
    return `${JSON.stringify(line, (key, value) => key === "" ? value : safeValue(key, value))}\n`;
  };
}
