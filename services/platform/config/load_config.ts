import type { Field } from "./fields.ts";

/** A configuration schema: fields, grouped in nested objects (`{ server: { port: tcpPort() } }`). */
export interface Schema {
  readonly [key: string]: Field<unknown> | Schema;
}

/** The typed, validated configuration object a schema describes. */
export type ConfigOf<S extends Schema> = {
  readonly [K in keyof S]: S[K] extends Field<infer T> ? T : S[K] extends Schema ? ConfigOf<S[K]> : never;
};

/** A configuration that cannot be used; `message` is one line naming the key and what was expected. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** The dotted key at fault, for example `server.port`. */
  readonly key: string;

  /** Creates the error for one key. */
  constructor(key: string, message: string) {
    super(message);
    this.key = key;
  }
}

/** Where the values come from, besides the schema's defaults. */
export interface LoadConfigOptions {
  /** Environment variables are `<envPrefix>_<KEY>`: `server.port` is `SHOP_USER_SERVER_PORT`. */
  envPrefix: string;
  /** Command-line flags: `--server.port=8080` or `--server.port 8080`; `--config=FILE` names a JSON file. */
  args?: readonly string[];
  /** The environment; the process environment when omitted. */
  env?: Readonly<Record<string, string>>;
}

type Source = "default" | "file" | "env" | "flag";

interface Leaf {
  key: string;
  envName: string;
  field: Field<unknown>;
}

function isField(node: Field<unknown> | Schema): node is Field<unknown> {
  return typeof (node as Field<unknown>).parse === "function";
}

function leavesOf(schema: Schema, envPrefix: string, path: string[] = []): Leaf[] {
  return Object.entries(schema).flatMap(([name, node]) => {
    const keyPath = [...path, name];
    if (!isField(node)) return leavesOf(node, envPrefix, keyPath);
    const envName = [envPrefix, ...keyPath.map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2"))]
      .join("_")
      .toUpperCase();
    return [{ key: keyPath.join("."), envName, field: node }];
  });
}

function parseFlags(args: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const match = /^--([A-Za-z][\w.-]*)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) {
      throw new ConfigError(arg, `config: unexpected argument "${arg}" (flags look like --key=value)`);
    }
    let value = match[2];
    if (value === undefined) {
      const next = args[i + 1];
      // A bare flag before another flag or at the end is a boolean switch.
      value = next === undefined || next.startsWith("--") ? "true" : next;
      if (value === next) i++;
    }
    flags.set(match[1], value);
  }
  return flags;
}

function flattenFile(value: unknown, file: string, path: string[] = []): Map<string, unknown> {
  const values = new Map<string, unknown>();
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(path.join(".") || file, `config: ${file} must hold a JSON object`);
  }
  for (const [name, inner] of Object.entries(value)) {
    const keyPath = [...path, name];
    if (typeof inner === "object" && inner !== null && !Array.isArray(inner)) {
      for (const [key, leaf] of flattenFile(inner, file, keyPath)) values.set(key, leaf);
    } else {
      values.set(keyPath.join("."), inner);
    }
  }
  return values;
}

function readFile(file: string): Map<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw new ConfigError("config", `config: cannot read config file ${file}: ${(error as Error).message}`);
  }
  try {
    return flattenFile(JSON.parse(text), file);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError("config", `config: ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node = (node[part] ??= {}) as Record<string, unknown>;
  }
  node[parts[parts.length - 1] ?? key] = value;
}

/**
 * Builds a service's configuration from its schema: defaults, then a JSON config file, then environment
 * variables, then flags, each overriding the one before (as Viper does). Every value is checked; an
 * unknown key or a bad value throws a {@linkcode ConfigError} whose message is one line naming the key,
 * where the value came from and what was expected. Secret values never appear in messages.
 *
 * @example
 * ```ts
 * import { duration, tcpPort, url } from "./fields.ts";
 * const config = loadConfig({
 *   server: { port: tcpPort({ default: 50051 }) },
 *   database: { url: url({ schemes: ["postgres"], secret: true }) },
 *   shutdownGrace: duration({ default: 10_000 }),
 * }, { envPrefix: "SHOP_USER", args: Deno.args });
 * config.server.port; // number
 * ```
 */
export function loadConfig<S extends Schema>(schema: S, options: LoadConfigOptions): ConfigOf<S> {
  const env = options.env ?? Deno.env.toObject();
  const flags = parseFlags(options.args ?? []);
  const leaves = leavesOf(schema, options.envPrefix);
  const known = new Set(leaves.map((leaf) => leaf.key));
  const configEnv = `${options.envPrefix}_CONFIG`;

  const file = flags.get("config") ?? env[configEnv];
  flags.delete("config");
  const fileValues = file ? readFile(file) : new Map<string, unknown>();

  for (const key of fileValues.keys()) {
    if (!known.has(key)) throw new ConfigError(key, `config: unknown key "${key}" in ${file}`);
  }
  for (const key of flags.keys()) {
    if (!known.has(key)) throw new ConfigError(key, `config: unknown flag --${key}`);
  }
  const envNames = new Set(leaves.map((leaf) => leaf.envName));
  for (const name of Object.keys(env)) {
    if (name.startsWith(`${options.envPrefix}_`) && name !== configEnv && !envNames.has(name)) {
      throw new ConfigError(name, `config: unknown environment variable ${name}`);
    }
  }

  const result: Record<string, unknown> = {};
  for (const { key, envName, field } of leaves) {
    let raw: unknown = undefined;
    let source: Source = "default";
    let origin = "";
    if (fileValues.has(key)) [raw, source, origin] = [fileValues.get(key), "file", `in ${file}`];
    const fromEnv = [envName, ...field.env].find((name) => env[name] !== undefined);
    if (fromEnv !== undefined) [raw, source, origin] = [env[fromEnv], "env", `from ${fromEnv}`];
    if (flags.has(key)) [raw, source, origin] = [flags.get(key), "flag", `from --${key}`];

    if (source === "default") {
      if (field.default === undefined) {
        throw new ConfigError(
          key,
          `config: ${key} is required: expected ${field.expected} (set ${envName} or --${key})`,
        );
      }
      setPath(result, key, field.default);
      continue;
    }
    const parsed = field.parse(raw);
    if (!parsed.ok) {
      const shown = field.secret ? "a secret value" : JSON.stringify(raw);
      throw new ConfigError(key, `config: ${key}: expected ${field.expected}, got ${shown} ${origin}`);
    }
    setPath(result, key, parsed.value);
  }
  return result as ConfigOf<S>;
}

/**
 * The configuration as it is safe to log: every secret replaced by `"<secret>"`.
 *
 * @example
 * ```ts
 * import { string } from "./fields.ts";
 * const schema = { token: string({ secret: true, default: "dev-only" }) };
 * const config = loadConfig(schema, { envPrefix: "DEMO", env: {} });
 * describeConfig(schema, config); // { token: "<secret>" }
 * ```
 */
export function describeConfig<S extends Schema>(schema: S, config: ConfigOf<S>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const { key, field } of leavesOf(schema, "")) {
    const value = key.split(".").reduce<unknown>(
      (node, part) => (node as Record<string, unknown> | undefined)?.[part],
      config,
    );
    setPath(shown, key, field.secret ? "<secret>" : value);
  }
  return shown;
}

/**
 * Loads the configuration or ends the process: on a {@linkcode ConfigError} it prints the one-line
 * message to stderr and exits with status 2, as a service's start-up should.
 *
 * @example
 * ```ts
 * import { tcpPort } from "./fields.ts";
 * const config = loadConfigOrExit({ port: tcpPort({ default: 50051 }) }, {
 *   envPrefix: "SHOP_USER",
 *   args: Deno.args,
 * });
 * ```
 */
export function loadConfigOrExit<S extends Schema>(schema: S, options: LoadConfigOptions): ConfigOf<S> {
  try {
    return loadConfig(schema, options);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The logger is configured from this very config, so this one line goes straight to stderr.
    Deno.stderr.writeSync(new TextEncoder().encode(`${error.message}\n`));
    Deno.exit(2);
  }
}
