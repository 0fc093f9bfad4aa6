/**
 * A small etcd v3 client that speaks etcd's JSON gateway (`/v3/kv/range`, `/v3/watch`, `/v3/lease/...`)
 * over Deno's own `fetch`.
 *
 * Why not the npm `etcd3` client: it is built on `@grpc/grpc-js`, which is a `node:http2` CLIENT. In
 * Deno a process holding a `node:http2` client session can crash when the server it talks to shuts
 * down (denoland/deno#36788, see `client/service_transport.ts`), and grpc-js has been seen to lose
 * messages of server streams that end in an error (PLATFORM.md). Discovery must survive exactly that:
 * etcd restarting under every service. HTTP/1.1 through `fetch` has neither problem, every request gets
 * a deadline, and a watch is a plain streamed response that ends or fails visibly.
 *
 * @module
 */
import { TextLineStream } from "../streams/text_line_stream.ts";

/** Where etcd is and how to reach it. */
export interface EtcdOptions {
  /** One or more client URLs, as an array or comma-separated: `http://127.0.0.1:2379`. */
  endpoints: string | readonly string[];
  /** The deadline of every request except watches, in milliseconds (3 s unless set). */
  requestTimeoutMs?: number;
  /**
   * For `https://` endpoints: the CA to trust, and a client certificate if etcd asks for one (it must
   * carry no CN: etcd's JSON gateway refuses one, etcd-io/etcd#10366).
   */
  tls?: { ca: string; cert?: string; key?: string };
  /**
   * An etcd user, for an etcd with authentication on: the client signs in (`/v3/auth/authenticate`) at
   * its first request, sends the token with every request and watch, and signs in again when etcd says
   * the token is no longer valid (simple tokens expire after `--auth-token-ttl` unused).
   */
  auth?: { user: string; password: string };
}

/** A key and its value as etcd stores them. */
export interface EtcdKeyValue {
  key: string;
  value: string;
  /** The revision of the last change of this key. */
  modRevision: bigint;
  /** The lease the key is attached to, `"0"` when none. */
  lease: string;
}

/** One change a watch reports. */
export interface EtcdEvent {
  type: "put" | "delete";
  /** For `delete`, the value is empty. */
  kv: EtcdKeyValue;
}

/**
 * etcd answered with an error (a gRPC status through the gateway).
 *
 * @example
 * ```ts
 * new EtcdError("etcdserver: requested lease not found", 5).code; // 5
 * ```
 */
export class EtcdError extends Error {
  /** The gRPC status code etcd answered with (5 is NOT_FOUND, for a lease that is gone). */
  readonly code: number;
  /** Creates the error. */
  constructor(message: string, code: number) {
    super(message);
    this.name = "EtcdError";
    this.code = code;
  }
}

/**
 * No etcd endpoint answered: refused, reset, timed out or unavailable, every one of them.
 *
 * @example
 * ```ts
 * new EtcdUnavailableError("etcd is unreachable (http://127.0.0.1:2379: timed out)").name; // "EtcdUnavailableError"
 * ```
 */
export class EtcdUnavailableError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EtcdUnavailableError";
  }
}

/**
 * A watch ended because its start revision was compacted away: list again, then watch again.
 *
 * @example
 * ```ts
 * new EtcdCompactedError(42n).compactRevision; // 42n
 * ```
 */
export class EtcdCompactedError extends Error {
  /** The oldest revision etcd still has. */
  readonly compactRevision: bigint;
  /** Creates the error. */
  constructor(compactRevision: bigint) {
    super(`the watch start revision was compacted (oldest kept: ${compactRevision})`);
    this.name = "EtcdCompactedError";
    this.compactRevision = compactRevision;
  }
}

interface RawKeyValue {
  key?: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}

interface RawHeader {
  revision?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(data: string | undefined): string {
  if (data === undefined || data === "") return "";
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return decoder.decode(bytes);
}

/**
 * The first key after every key that starts with `prefix`: its last byte plus one (etcd's `range_end`
 * for a prefix).
 *
 * @example
 * ```ts
 * prefixRangeEnd("/shop/services/"); // "/shop/services0"
 * ```
 */
export function prefixRangeEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i] ?? 0;
    if (byte < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i] = byte + 1;
      return decoder.decode(end);
    }
  }
  return "\0"; // Every byte is 0xff: the range has no end (etcd reads "\0" as "to the last key").
}

/**
 * Every key starting with `prefix`, as etcd's JSON gateway takes a range: `key` and `range_end`,
 * base64-encoded (ranges, watches, deletes, and the permissions of roles).
 *
 * @example
 * ```ts
 * prefixRange("/a/"); // { key: "L2Ev", range_end: "L2Ew" }
 * ```
 */
export function prefixRange(prefix: string): { key: string; range_end: string } {
  return { key: toBase64(prefix), range_end: toBase64(prefixRangeEnd(prefix)) };
}

function keyValueOf(raw: RawKeyValue): EtcdKeyValue {
  return {
    key: fromBase64(raw.key),
    value: fromBase64(raw.value),
    modRevision: BigInt(raw.mod_revision ?? "0"),
    lease: raw.lease ?? "0",
  };
}

function splitEndpoints(endpoints: string | readonly string[]): string[] {
  const list = typeof endpoints === "string" ? endpoints.split(",") : [...endpoints];
  const cleaned = list.map((url) => url.trim().replace(/\/+$/, "")).filter((url) => url !== "");
  if (cleaned.length === 0) throw new Error("etcd: no endpoint given");
  for (const url of cleaned) {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new Error(`etcd: ${url} is not an http:// or https:// URL`);
    }
  }
  return cleaned;
}

/** The message of an error and of its causes, which is where `fetch` puts what actually happened. */
function describeFailure(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current.name === "TimeoutError") parts.push("timed out");
    else if (current.message !== "" && current.message !== "fetch failed") parts.push(current.message);
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(": ") : String(error);
}

/**
 * A client of etcd's v3 JSON gateway. With several endpoints it sticks to one and moves on to the next
 * when it does not answer.
 *
 * @example
 * ```ts ignore
 * const etcd = new EtcdClient({ endpoints: "http://127.0.0.1:2379" });
 * const lease = await etcd.grantLease(10);
 * await etcd.put("/shop/services/product/p-1", "{}", lease.id);
 * const { kvs, revision } = await etcd.rangePrefix("/shop/services/");
 * etcd.close();
 * ```
 */
export class EtcdClient {
  /** The endpoints, in the order they are tried. */
  readonly endpoints: readonly string[];
  readonly #timeoutMs: number;
  readonly #httpClient: Deno.HttpClient | undefined;
  readonly #auth: { user: string; password: string } | undefined;
  /** The token of the last sign-in, while etcd takes it. */
  #token: Promise<string> | undefined;
  #current = 0;

  /** Creates a client; nothing is sent until the first call. */
  constructor(options: EtcdOptions) {
    this.endpoints = splitEndpoints(options.endpoints);
    this.#timeoutMs = options.requestTimeoutMs ?? 3_000;
    this.#auth = options.auth;
    const tls = options.tls;
    this.#httpClient = tls === undefined ? undefined : Deno.createHttpClient({
      caCerts: [tls.ca],
      ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    });
  }

  /** The endpoint in use now, for messages. */
  get endpoint(): string {
    return this.endpoints[this.#current] ?? this.endpoints[0] ?? "";
  }

  /** Closes the TLS client, if any. */
  close(): void {
    this.#httpClient?.close();
  }

  #fetch(
    endpoint: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    token?: string,
  ): Promise<Response> {
    return fetch(`${endpoint}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token === undefined ? {} : { authorization: token }),
      },
      body: JSON.stringify(body),
      signal,
      ...(this.#httpClient === undefined ? {} : { client: this.#httpClient }),
    });
  }

  /** The token to send (signing in first if there is none), or undefined without `auth`. */
  async #currentToken(signal?: AbortSignal): Promise<string | undefined> {
    const auth = this.#auth;
    if (auth === undefined) return undefined;
    if (this.#token === undefined) {
      const signIn = this.#call<{ token?: string }>(
        "/v3/auth/authenticate",
        { name: auth.user, password: auth.password },
        signal,
        { signIn: true },
      ).then((answer) => {
        if (answer.token === undefined || answer.token === "") {
          throw new EtcdError(`etcd gave user ${auth.user} no token`, 16);
        }
        return answer.token;
      });
      this.#token = signIn;
      signIn.catch(() => {
        if (this.#token === signIn) this.#token = undefined;
      });
    }
    return await this.#token;
  }

  /** Sends one request, to the current endpoint and then to the others, each with the deadline. */
  async #call<T>(
    path: string,
    body: unknown,
    signal?: AbortSignal,
    options: { signIn?: boolean; signedInAgain?: boolean } = {},
  ): Promise<T> {
    const failures: string[] = [];
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      const endpoint = this.endpoint;
      const deadline = AbortSignal.timeout(this.#timeoutMs);
      const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
      let response: Response;
      let text: string;
      // Signing in has its own endpoint failover and errors (a wrong password is an EtcdError).
      const token = options.signIn === true ? undefined : await this.#currentToken(signal);
      try {
        response = await this.#fetch(endpoint, path, body, combined, token);
        text = await response.text();
      } catch (error) {
        if (signal?.aborted) throw error;
        failures.push(`${endpoint}: ${describeFailure(error)}`);
        this.#current = (this.#current + 1) % this.endpoints.length;
        continue;
      }
      const parsed = parseJson(text);
      if (response.ok) return parsed as T;
      const error = parsed as { message?: string; error?: string; code?: number } | undefined;
      const code = typeof error?.code === "number" ? error.code : 0;
      const message = error?.message ?? error?.error ?? `HTTP ${response.status} ${text.slice(0, 200)}`;
      if (code === 14 || response.status === 503) {
        // UNAVAILABLE: this member has no leader or is stopping; another member may answer.
        failures.push(`${endpoint}: ${message}`);
        this.#current = (this.#current + 1) % this.endpoints.length;
        continue;
      }
      if (token !== undefined && isStaleToken(message) && options.signedInAgain !== true) {
        // The token expired (or etcd restarted): sign in again, once.
        if (this.#token !== undefined && await this.#token.catch(() => undefined) === token) {
          this.#token = undefined;
        }
        return await this.#call<T>(path, body, signal, { signedInAgain: true });
      }
      throw new EtcdError(`etcd ${path} failed: ${message}`, code);
    }
    throw new EtcdUnavailableError(`etcd is unreachable (${failures.join("; ")})`);
  }

  /**
   * Any other call of etcd's v3 JSON API (`/v3/auth/user/add`, ...), with the client's endpoints, TLS,
   * sign-in and deadline; rejects with an {@linkcode EtcdError} carrying etcd's message and code.
   *
   * @example
   * ```ts ignore
   * await etcd.request("/v3/auth/role/add", { name: "order" });
   * ```
   */
  request<T = unknown>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.#call<T>(path, body, signal);
  }

  /**
   * Every key that starts with `prefix`, and the store's revision at that moment (watch from the next
   * one to miss nothing).
   *
   * @example
   * ```ts ignore
   * const { kvs, revision } = await etcd.rangePrefix("/shop/services/");
   * ```
   */
  async rangePrefix(
    prefix: string,
    signal?: AbortSignal,
  ): Promise<{ kvs: EtcdKeyValue[]; revision: bigint }> {
    const answer = await this.#call<{ header?: RawHeader; kvs?: RawKeyValue[] }>(
      "/v3/kv/range",
      prefixRange(prefix),
      signal,
    );
    return { kvs: (answer.kvs ?? []).map(keyValueOf), revision: BigInt(answer.header?.revision ?? "0") };
  }

  /**
   * Writes a key, attached to a lease unless `lease` is absent or `"0"`.
   *
   * @example
   * ```ts ignore
   * await etcd.put("/shop/services/product/p-1", "{}", lease.id);
   * ```
   */
  async put(key: string, value: string, lease?: string, signal?: AbortSignal): Promise<bigint> {
    const body = {
      key: toBase64(key),
      value: toBase64(value),
      ...(lease === undefined || lease === "0" ? {} : { lease }),
    };
    const answer = await this.#call<{ header?: RawHeader }>("/v3/kv/put", body, signal);
    return BigInt(answer.header?.revision ?? "0");
  }

  /**
   * Deletes a key.
   *
   * @example
   * ```ts ignore
   * await etcd.delete("/shop/services/product/p-1");
   * ```
   */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.#call("/v3/kv/deleterange", { key: toBase64(key) }, signal);
  }

  /**
   * Deletes every key starting with `prefix`.
   *
   * @example
   * ```ts ignore
   * await etcd.deletePrefix("/test/suite-1/");
   * ```
   */
  async deletePrefix(prefix: string, signal?: AbortSignal): Promise<void> {
    await this.#call("/v3/kv/deleterange", prefixRange(prefix), signal);
  }

  /**
   * Discards history up to `revision` (tests use it to provoke compacted watches).
   *
   * @example
   * ```ts ignore
   * await etcd.compact(revision);
   * ```
   */
  async compact(revision: bigint, signal?: AbortSignal): Promise<void> {
    await this.#call("/v3/kv/compaction", { revision: revision.toString(), physical: true }, signal);
  }

  /**
   * Grants a lease of `ttlSeconds`; keys attached to it are deleted when it expires or is revoked.
   *
   * @example
   * ```ts ignore
   * const { id, ttlSeconds } = await etcd.grantLease(10);
   * ```
   */
  async grantLease(ttlSeconds: number, signal?: AbortSignal): Promise<{ id: string; ttlSeconds: number }> {
    const answer = await this.#call<{ ID?: string; TTL?: string; error?: string }>(
      "/v3/lease/grant",
      { TTL: ttlSeconds },
      signal,
    );
    if (answer.ID === undefined || answer.ID === "0") {
      throw new EtcdError(`etcd refused a lease: ${answer.error ?? "no lease id"}`, 0);
    }
    return { id: answer.ID, ttlSeconds: Number(answer.TTL ?? ttlSeconds) };
  }

  /**
   * Renews a lease once; returns its remaining TTL in seconds, 0 when the lease no longer exists
   * (expired, revoked, or etcd lost its data).
   *
   * @example
   * ```ts ignore
   * if (await etcd.keepAlive(lease.id) === 0) console.warn("lease lost");
   * ```
   */
  async keepAlive(id: string, signal?: AbortSignal): Promise<number> {
    // A bidirectional stream through the gateway: one request in the body, one answer out, then the
    // gateway closes the stream because the body has ended.
    const answer = await this.#call<{ result?: { TTL?: string }; error?: { message?: string } }>(
      "/v3/lease/keepalive",
      { ID: id },
      signal,
    );
    if (answer.error !== undefined) {
      throw new EtcdError(`etcd keepalive failed: ${answer.error.message ?? "unknown error"}`, 0);
    }
    return Number(answer.result?.TTL ?? "0");
  }

  /**
   * Revokes a lease, deleting every key attached to it at once; a lease that is already gone is fine.
   *
   * @example
   * ```ts ignore
   * await etcd.revokeLease(lease.id);
   * ```
   */
  async revokeLease(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call("/v3/lease/revoke", { ID: id }, signal);
    } catch (error) {
      if (error instanceof EtcdError && error.code === 5) return;
      throw error;
    }
  }

  /**
   * Watches every key under `prefix` from `startRevision` on, yielding the changes of each revision in
   * order. It runs until `signal` aborts (then it returns) or the watch ends: a dropped connection or
   * a stopped etcd throws {@linkcode EtcdUnavailableError}, a compacted start revision
   * {@linkcode EtcdCompactedError}; either way the caller lists again and watches from there.
   *
   * @example
   * ```ts ignore
   * const stop = new AbortController();
   * for await (const events of etcd.watchPrefix("/shop/services/", revision + 1n, stop.signal)) {
   *   for (const event of events) console.log(event.type, event.kv.key);
   * }
   * ```
   */
  async *watchPrefix(
    prefix: string,
    startRevision: bigint,
    signal: AbortSignal,
  ): AsyncGenerator<EtcdEvent[], void, undefined> {
    const endpoint = this.endpoint;
    const request = {
      create_request: {
        ...prefixRange(prefix),
        start_revision: startRevision.toString(),
      },
    };
    // The watch must be created within the request deadline; after that the stream runs unbounded
    // (the resolver restarts it now and then, which also catches a connection that died silently).
    const local = new AbortController();
    const onAbort = () => local.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const connectTimer = setTimeout(
      () => local.abort(new DOMException("the watch was not created in time", "TimeoutError")),
      this.#timeoutMs,
    );
    try {
      let response: Response;
      try {
        const token = await this.#currentToken(local.signal);
        response = await this.#fetch(endpoint, "/v3/watch", request, local.signal, token);
      } catch (error) {
        if (signal.aborted) return;
        this.#current = (this.#current + 1) % this.endpoints.length;
        throw new EtcdUnavailableError(`etcd watch at ${endpoint} failed: ${describeFailure(error)}`, {
          cause: error,
        });
      }
      if (!response.ok || response.body === null) {
        const text = await response.text().catch(() => "");
        throw new EtcdUnavailableError(`etcd watch at ${endpoint} answered ${response.status}: ${text}`);
      }
      const lines = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
      try {
        for await (const line of lines) {
          if (line.trim() === "") continue;
          const message = parseJson(line) as {
            result?: {
              created?: boolean;
              canceled?: boolean;
              compact_revision?: string;
              cancel_reason?: string;
              events?: Array<{ type?: string; kv?: RawKeyValue }>;
            };
            error?: { message?: string };
          };
          if (message.error !== undefined) {
            // A token that expired: the next call signs in again (the resolver lists, then watches anew).
            if (isStaleToken(message.error.message ?? "")) this.#token = undefined;
            throw new EtcdUnavailableError(
              `etcd watch at ${endpoint} failed: ${message.error.message ?? line}`,
            );
          }
          const result = message.result ?? {};
          if (result.created === true) clearTimeout(connectTimer);
          if (result.canceled === true) {
            const compacted = BigInt(result.compact_revision ?? "0");
            if (compacted > 0n) throw new EtcdCompactedError(compacted);
            throw new EtcdUnavailableError(
              `etcd canceled the watch at ${endpoint}: ${result.cancel_reason ?? "no reason given"}`,
            );
          }
          const events = (result.events ?? []).map((event): EtcdEvent => ({
            type: event.type === "DELETE" ? "delete" : "put",
            kv: keyValueOf(event.kv ?? {}),
          }));
          if (events.length > 0) yield events;
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof EtcdCompactedError || error instanceof EtcdUnavailableError) throw error;
        throw new EtcdUnavailableError(`etcd watch at ${endpoint} broke: ${describeFailure(error)}`, {
          cause: error,
        });
      }
      if (signal.aborted) return;
      throw new EtcdUnavailableError(`etcd at ${endpoint} ended the watch`);
    } finally {
      clearTimeout(connectTimer);
      signal.removeEventListener("abort", onAbort);
      local.abort();
    }
  }
}

/** Whether etcd's message says the token it was sent is no longer valid. */
function isStaleToken(message: string): boolean {
  return /invalid auth token|auth token is expired|user name is empty/i.test(message);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
