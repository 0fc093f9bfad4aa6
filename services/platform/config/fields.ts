/**
 * The typed fields a service's configuration schema is built from. Each field knows its default, how to
 * read a raw value (from a JSON file, an environment variable or a flag) and how to describe what it
 * expects, so that a bad value fails start-up with one line naming the key.
 *
 * @module
 */

/** How one configuration value is read and checked. */
export interface Field<T> {
  /** The value used when no source sets the key; `undefined` makes the key required. */
  readonly default: T | undefined;
  /** True for passwords, keys and URLs with credentials: never printed. */
  readonly secret: boolean;
  /** Extra environment variables that set this key, for example `SHOP_ADMIN_EMAIL`. */
  readonly env: readonly string[];
  /** What a valid value looks like, for error messages: "an integer from 1 to 65535". */
  readonly expected: string;
  /** Reads a raw value; strings come from env and flags, any JSON value from a file. */
  parse(raw: unknown): { ok: true; value: T } | { ok: false };
}

/** Options every field takes. */
export interface FieldOptions<T> {
  /** The value when nothing sets the key. Omit it to make the key required. */
  default?: T;
  /** Never print the value (logs show `"<secret>"`). */
  secret?: boolean;
  /** Environment variables that also set this key (checked after the key's own variable). */
  env?: readonly string[];
}

function makeField<T>(
  expected: string,
  parse: Field<T>["parse"],
  options: FieldOptions<T>,
): Field<T> {
  return {
    default: options.default,
    secret: options.secret ?? false,
    env: options.env ?? [],
    expected,
    parse,
  };
}

/**
 * A string, optionally limited in length or by a pattern.
 *
 * @example
 * ```ts
 * const host = string({ default: "127.0.0.1" });
 * ```
 */
export function string(
  options: FieldOptions<string> & { minLength?: number; pattern?: RegExp; describe?: string } = {},
): Field<string> {
  const min = options.minLength ?? 0;
  const expected = options.describe ??
    (min > 0 ? `a string of at least ${min} characters` : "a string");
  return makeField(expected, (raw) => {
    if (typeof raw !== "string" || raw.length < min) return { ok: false };
    if (options.pattern && !options.pattern.test(raw)) return { ok: false };
    return { ok: true, value: raw };
  }, options);
}

/**
 * An integer within bounds (inclusive).
 *
 * @example
 * ```ts
 * const poolSize = integer({ default: 10, min: 1, max: 100 });
 * ```
 */
export function integer(
  options: FieldOptions<number> & { min?: number; max?: number } = {},
): Field<number> {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return makeField(`an integer from ${min} to ${max}`, (raw) => {
    const value = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      return { ok: false };
    }
    return { ok: true, value };
  }, options);
}

/**
 * A TCP port; 0 asks the system for a free one.
 *
 * @example
 * ```ts
 * const port = tcpPort({ default: 50051 });
 * ```
 */
export function tcpPort(options: FieldOptions<number> = {}): Field<number> {
  return integer({ ...options, min: 0, max: 65535 });
}

/**
 * A boolean: `true`/`false`, also `1`/`0`, `yes`/`no`, `on`/`off` from env and flags.
 *
 * @example
 * ```ts
 * const plaintext = boolean({ default: false });
 * ```
 */
export function boolean(options: FieldOptions<boolean> = {}): Field<boolean> {
  const words: Record<string, boolean> = {
    true: true,
    false: false,
    "1": true,
    "0": false,
    yes: true,
    no: false,
    on: true,
    off: false,
  };
  return makeField("true or false", (raw) => {
    if (typeof raw === "boolean") return { ok: true, value: raw };
    if (typeof raw === "string" && raw.toLowerCase() in words) {
      return { ok: true, value: words[raw.toLowerCase()] === true };
    }
    return { ok: false };
  }, options);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration written like `250ms`, `30s`, `5m` or `1h` (a bare number is milliseconds); the value is in
 * milliseconds.
 *
 * @example
 * ```ts
 * const shutdownGrace = duration({ default: 10_000, max: 60_000 });
 * ```
 */
export function duration(
  options: FieldOptions<number> & { min?: number; max?: number } = {},
): Field<number> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const bounds = options.max === undefined ? "" : ` up to ${max}ms`;
  return makeField(`a duration such as 500ms, 30s or 5m${bounds}`, (raw) => {
    let value: number | undefined;
    if (typeof raw === "number") value = raw;
    if (typeof raw === "string") {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
      if (match?.[1] !== undefined) value = Number(match[1]) * (durationUnits[match[2] ?? "ms"] ?? 1);
    }
    if (value === undefined || !Number.isFinite(value) || value < min || value > max) return { ok: false };
    return { ok: true, value: Math.round(value) };
  }, options);
}

/**
 * One of a fixed set of words.
 *
 * @example
 * ```ts
 * const level = oneOf(["debug", "info", "warning", "error"] as const, { default: "info" });
 * ```
 */
export function oneOf<const T extends string>(
  values: readonly T[],
  options: FieldOptions<T> = {},
): Field<T> {
  return makeField(`one of ${values.join(", ")}`, (raw) => {
    const found = values.find((value) => value === raw);
    return found === undefined ? { ok: false } : { ok: true, value: found };
  }, options);
}

/**
 * An absolute URL with one of the given schemes, kept as a string.
 *
 * @example
 * ```ts
 * const databaseUrl = url({ schemes: ["postgres", "postgresql"], secret: true });
 * ```
 */
export function url(options: FieldOptions<string> & { schemes: readonly string[] }): Field<string> {
  return makeField(`a URL starting with ${options.schemes.map((s) => `${s}://`).join(" or ")}`, (raw) => {
    if (typeof raw !== "string" || !URL.canParse(raw)) return { ok: false };
    const scheme = new URL(raw).protocol.replace(/:$/, "");
    return options.schemes.includes(scheme) ? { ok: true, value: raw } : { ok: false };
  }, options);
}

/**
 * A list of strings: a JSON array in a file, comma-separated in env and flags.
 *
 * @example
 * ```ts
 * const endpoints = stringList({ default: ["http://127.0.0.1:2379"] });
 * ```
 */
export function stringList(options: FieldOptions<string[]> = {}): Field<string[]> {
  return makeField("a comma-separated list", (raw) => {
    if (typeof raw === "string") {
      return { ok: true, value: raw.split(",").map((item) => item.trim()).filter((item) => item !== "") };
    }
    if (Array.isArray(raw) && raw.every((item) => typeof item === "string")) {
      return { ok: true, value: [...raw] };
    }
    return { ok: false };
  }, options);
}
