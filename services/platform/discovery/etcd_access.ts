/**
 * Who may do what in the registry: etcd's users and roles, set up once per etcd (and per key prefix),
 * so that a service writes only its own registrations. Each shop identity is an etcd user of the same
 * name with a role of the same name; per prefix, that role may read everything under `<prefix>/` (to
 * find the others) and write only `<prefix>/<name>/` (for the edge bridge or Prometheus a subtree nobody
 * resolves). `root` sets it up. Used by the dev stack, the test harness and compose's one-shot.
 *
 * The passwords: `<certsDir>/etcd/<identity>.password` beside each identity's certificate (DEV ONLY ones
 * from `scripts/certs`, random per machine; a deployment brings its own).
 *
 * @module
 */
import { EtcdClient, EtcdError, type EtcdOptions, prefixRange } from "./etcd_client.ts";
import { normalizePrefix } from "./instance.ts";

/** Runs an etcd auth call, taking "already exists" / "already granted" as done. */
async function idempotent(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (error instanceof EtcdError && /already exists|already granted|already/i.test(error.message)) return;
    throw error;
  }
}

/**
 * Turns authentication on in an etcd that has it off: adds `root` with `rootPassword` and the root role,
 * then enables auth. An etcd with auth on already is left as it is (`client` must then be root's).
 *
 * @example
 * ```ts ignore
 * await enableEtcdAuth(new EtcdClient({ endpoints, tls }), rootPassword);
 * ```
 */
export async function enableEtcdAuth(client: EtcdClient, rootPassword: string): Promise<void> {
  try {
    await client.request("/v3/auth/user/add", { name: "root", password: rootPassword });
  } catch (error) {
    // Auth on already: etcd wants a user for every request, which this client (no user) is not.
    if (error instanceof EtcdError && /user name is empty|permission denied/i.test(error.message)) return;
    if (!(error instanceof EtcdError && /already exists/i.test(error.message))) throw error;
  }
  await idempotent(client.request("/v3/auth/user/grant", { user: "root", role: "root" }));
  await client.request("/v3/auth/enable", {});
}

/** Options of {@linkcode grantRegistryAccess}. */
export interface GrantRegistryAccessOptions {
  /**
   * Set the password of every user that exists already to the one given (a deployment's Secret is the
   * truth: a password changed there takes effect at the next run). Unless set, an existing user keeps
   * its password (each change costs etcd a bcrypt hash, and ends the user's sessions: its clients sign
   * in again).
   */
  resetPasswords?: boolean;
}

/**
 * Adds a user and a role per identity of `passwords` (an existing user keeps its password unless
 * `resetPasswords`) and grants each role read on `<prefix>/` and read-write on `<prefix>/<identity>/`.
 * Idempotent; `root` is root's client.
 *
 * @example
 * ```ts ignore
 * await grantRegistryAccess(root, "/shop/services", { order: "…", edge: "…" });
 * ```
 */
export async function grantRegistryAccess(
  root: EtcdClient,
  registryPrefix: string,
  passwords: Record<string, string>,
  options: GrantRegistryAccessOptions = {},
): Promise<void> {
  const prefix = `${normalizePrefix(registryPrefix)}/`;
  // Adding a user costs etcd a bcrypt hash: only the missing ones, one at a time.
  const users = new Set((await root.request<{ users?: string[] }>("/v3/auth/user/list", {})).users ?? []);
  for (const [name, password] of Object.entries(passwords)) {
    if (users.has(name)) {
      if (options.resetPasswords === true) {
        await root.request("/v3/auth/user/changepw", { name, password });
      }
      continue;
    }
    await idempotent(root.request("/v3/auth/user/add", { name, password }));
    await idempotent(root.request("/v3/auth/role/add", { name }));
    await idempotent(root.request("/v3/auth/user/grant", { user: name, role: name }));
  }
  await Promise.all(
    Object.keys(passwords).map(async (name) => {
      await root.request("/v3/auth/role/grant", { name, perm: { permType: "READ", ...prefixRange(prefix) } });
      await root.request("/v3/auth/role/grant", {
        name,
        perm: { permType: "READWRITE", ...prefixRange(`${prefix}${name}/`) },
      });
    }),
  );
}

/**
 * The etcd passwords in `<certsDir>/etcd/`: root's, and one per identity.
 *
 * @example
 * ```ts ignore
 * const { root, identities } = await readEtcdPasswords(certsDir);
 * ```
 */
export async function readEtcdPasswords(
  certsDir: string,
): Promise<{ root: string; identities: Record<string, string> }> {
  const identities: Record<string, string> = {};
  let root = "";
  for await (const entry of Deno.readDir(`${certsDir}/etcd`)) {
    const name = /^(.+)\.password$/.exec(entry.name)?.[1];
    if (name === undefined) continue;
    const password = (await Deno.readTextFile(`${certsDir}/etcd/${entry.name}`)).trim();
    if (name === "root") root = password;
    else identities[name] = password;
  }
  if (root === "") throw new Error(`${certsDir}/etcd/root.password is missing (scripts/certs makes it)`);
  return { root, identities };
}

/**
 * Takes back what {@linkcode grantRegistryAccess} granted under `prefix` (a test suite's namespace).
 *
 * @example
 * ```ts ignore
 * await revokeRegistryAccess(root, "/test/suite-1/", ["order", "edge"]);
 * ```
 */
export async function revokeRegistryAccess(
  root: EtcdClient,
  prefix: string,
  names: readonly string[],
): Promise<void> {
  const base = `${normalizePrefix(prefix)}/`;
  await Promise.all(names.map(async (name) => {
    for (const key of [base, `${base}${name}/`]) {
      try {
        await root.request("/v3/auth/role/revoke", { role: name, ...prefixRange(key) });
      } catch (error) {
        if (!(error instanceof EtcdError && /not granted|not found/i.test(error.message))) throw error;
      }
    }
  }));
}

/** What {@linkcode etcdAccessOf} needs. */
export interface EtcdAccessSettings {
  /** etcd's client URLs; `https://` ones are reached with `identity`'s certificate. */
  endpoints: readonly string[];
  /** The directory of the CA, `identity`'s certificate and key, and `etcd/<identity>.password`. */
  certsDir: string;
  /** The shop identity to act as (its certificate, and the etcd user of that name). */
  identity: string;
  /** Where the password is, when not at `<certsDir>/etcd/<identity>.password`. */
  passwordFile?: string;
}

/**
 * The options of an etcd client acting as `identity`: over `https://` its client certificate (and the
 * CA), and its etcd user when a password is found (`passwordFile`, else the one beside its certificate).
 * Over plain `http://`, neither: a password never crosses the network in the clear.
 *
 * @example
 * ```ts ignore
 * const etcd = new EtcdClient(await etcdAccessOf({ endpoints, certsDir: "certs/dev", identity: "order" }));
 * ```
 */
export async function etcdAccessOf(settings: EtcdAccessSettings): Promise<EtcdOptions> {
  const { endpoints, certsDir, identity } = settings;
  const secure = endpoints.some((url) => url.trim().startsWith("https://"));
  if (secure && certsDir === "") throw new Error(`etcd over https needs ${identity}'s certificates`);
  // Root has no certificate of its own: it connects with the client identity's.
  const tlsIdentity = identity === "root" ? "client" : identity;
  const tls = secure
    ? {
      ca: await Deno.readTextFile(`${certsDir}/ca.crt`),
      cert: await Deno.readTextFile(`${certsDir}/${tlsIdentity}.crt`),
      key: await Deno.readTextFile(`${certsDir}/${tlsIdentity}.key`),
    }
    : undefined;
  const passwordFile = !secure ? "" : settings.passwordFile || `${certsDir}/etcd/${identity}.password`;
  let password: string | undefined;
  try {
    password = passwordFile === "" ? undefined : (await Deno.readTextFile(passwordFile)).trim();
  } catch (error) {
    // A password file named in the config must be there; the one beside the certificate may not be.
    if (!(error instanceof Deno.errors.NotFound) || (settings.passwordFile ?? "") !== "") throw error;
  }
  return {
    endpoints: [...endpoints],
    ...(tls === undefined ? {} : { tls }),
    ...(password === undefined ? {} : { auth: { user: identity, password } }),
  };
}

/**
 * {@linkcode enableEtcdAuth} on the etcd at `endpoints`, connecting as the client identity of
 * `certsDir` (TLS, no user yet), with root's password from there.
 *
 * @example
 * ```ts ignore
 * await enableEtcdAuthFrom(["https://127.0.0.1:2379"], "certs/dev");
 * ```
 */
export async function enableEtcdAuthFrom(endpoints: readonly string[], certsDir: string): Promise<void> {
  const { auth: _noUserYet, ...tlsOnly } = await etcdAccessOf({ endpoints, certsDir, identity: "client" });
  const anonymous = new EtcdClient(tlsOnly);
  try {
    await enableEtcdAuth(anonymous, (await readEtcdPasswords(certsDir)).root);
  } finally {
    anonymous.close();
  }
}

/**
 * {@linkcode grantRegistryAccess} as etcd's root for every identity with a password in `certsDir`;
 * returns their names.
 *
 * @example
 * ```ts ignore
 * await grantRegistryAccessFrom(["https://127.0.0.1:2379"], "certs/dev", "/shop/services");
 * ```
 */
export async function grantRegistryAccessFrom(
  endpoints: readonly string[],
  certsDir: string,
  registryPrefix: string,
  options: GrantRegistryAccessOptions = {},
): Promise<string[]> {
  const { identities } = await readEtcdPasswords(certsDir);
  const root = new EtcdClient(await etcdAccessOf({ endpoints, certsDir, identity: "root" }));
  try {
    await grantRegistryAccess(root, registryPrefix, identities, options);
  } finally {
    root.close();
  }
  return Object.keys(identities);
}
