/**
 * A real etcd for tests, and a key prefix of its own for each suite. The etcd is the one of production:
 * TLS with client certificates of the shop's CA, authentication on, a user per shop identity who may
 * write only its own registrations (`@shop/platform/discovery`'s `grantRegistryAccess`), granted anew
 * under each suite's registry prefix.
 *
 * @module
 */
import { etcdAccessOf, grantRegistryAccessFrom, revokeRegistryAccess } from "../discovery/etcd_access.ts";
import { EtcdClient, type EtcdOptions } from "../discovery/etcd_client.ts";
import { ensureDevCertificates } from "../tls/tls_files.ts";
import { sharedServerUrl } from "./test_servers.ts";

/** The shared etcd of a test run. */
export interface EtcdForTests {
  /** The client URL, e.g. `https://127.0.0.1:41234`. */
  readonly url: string;
  /** The certificates (and etcd passwords) of the shop's identities, the dev ones. */
  readonly certsDir: string;
  /** Reserves a random key prefix for one suite; its keys are deleted on `clear()` or `await using`. */
  createNamespace(options?: CreateNamespaceOptions): Promise<EtcdTestNamespace>;
}

/** Options of {@linkcode EtcdForTests.createNamespace}. */
export interface CreateNamespaceOptions {
  /** A readable start of the prefix, such as the service's name. */
  label?: string;
}

/** A key prefix that belongs to one suite. */
export interface EtcdTestNamespace extends AsyncDisposable {
  /** The prefix, such as `/test/discovery-1f0c.../`: every key the suite writes starts with it. */
  readonly prefix: string;
  /**
   * The registry prefix of the suite, `<prefix>services`: each identity may write its own registrations
   * under it (`<prefix>services/<identity>/`) and read all of them.
   */
  readonly registryPrefix: string;
  /** The client URL of the server. */
  readonly url: string;
  /** Client options for etcd's `root`, who may do anything (for a test's own setup and checks). */
  readonly root: EtcdOptions;
  /** Client options acting as a shop identity (its certificate and etcd user). */
  access(identity: string): Promise<EtcdOptions>;
  /** Deletes every key under the prefix (`await using` also takes back the suite's grants). */
  clear(): Promise<void>;
}

/**
 * The shared etcd of the test run: `SHOP_TEST_ETCD_URL` when set, else a throwaway etcd this process
 * starts on free ports the first time it is asked for.
 *
 * @example Give a suite its own prefix
 * ```ts ignore
 * import { EtcdClient } from "@shop/platform/discovery";
 * import { etcdForTests } from "@shop/platform/testing";
 *
 * await using ns = await (await etcdForTests()).createNamespace({ label: "discovery" });
 * const etcd = new EtcdClient(ns.root);
 * await etcd.put(`${ns.prefix}greeting`, "hello");
 * ```
 */
export async function etcdForTests(): Promise<EtcdForTests> {
  const url = await sharedServerUrl("etcd");
  const certsDir = await ensureDevCertificates();
  const access = (identity: string) => etcdAccessOf({ endpoints: [url], certsDir, identity });
  return {
    url,
    certsDir,
    createNamespace: async (options) => {
      const label = options?.label ?? "suite";
      const prefix = `/test/${label}-${crypto.randomUUID()}/`;
      const registryPrefix = `${prefix}services`;
      const root = await access("root");
      const secured = root.auth !== undefined;
      const identities = secured ? await grantRegistryAccessFrom([url], certsDir, registryPrefix) : [];
      const clear = async () => {
        const etcd = new EtcdClient(root);
        try {
          await etcd.deletePrefix(prefix);
        } finally {
          etcd.close();
        }
      };
      const dispose = async () => {
        await clear();
        if (!secured) return;
        const etcd = new EtcdClient(root);
        try {
          await revokeRegistryAccess(etcd, registryPrefix, identities);
        } finally {
          etcd.close();
        }
      };
      return { prefix, registryPrefix, url, root, access, clear, [Symbol.asyncDispose]: dispose };
    },
  };
}
