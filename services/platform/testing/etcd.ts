/**
 * A real etcd for tests, and a key prefix of its own for each suite.
 *
 * @module
 */
import { sharedServerUrl } from "./test_servers.ts";

/** The shared etcd of a test run. */
export interface EtcdForTests {
  /** The client URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
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
  /** The client URL of the server. */
  readonly url: string;
  /** Deletes every key under the prefix. */
  clear(): Promise<void>;
}

/**
 * The shared etcd of the test run: `SHOP_TEST_ETCD_URL` when set, else a throwaway etcd this process
 * starts on free ports the first time it is asked for.
 *
 * @example Give a suite its own prefix
 * ```ts ignore
 * import { Etcd3 } from "etcd3";
 * import { etcdForTests } from "@shop/platform/testing";
 *
 * Deno.test("instances register", async () => {
 *   await using ns = await (await etcdForTests()).createNamespace({ label: "discovery" });
 *   const client = new Etcd3({ hosts: ns.url }).namespace(ns.prefix);
 *   await client.put("services/order/1").value("127.0.0.1:9000");
 *   client.close();
 * });
 * ```
 */
export async function etcdForTests(): Promise<EtcdForTests> {
  const url = await sharedServerUrl("etcd");
  return {
    url,
    createNamespace: (options) => {
      const label = options?.label ?? "suite";
      const prefix = `/test/${label}-${crypto.randomUUID()}/`;
      const clear = () => deletePrefix(url, prefix);
      return Promise.resolve({ prefix, url, clear, [Symbol.asyncDispose]: clear });
    },
  };
}

/** Deletes a prefix through etcd's JSON gateway, which spares the harness a gRPC client. */
async function deletePrefix(url: string, prefix: string): Promise<void> {
  const endpoint = url.split(",")[0]?.replace(/\/+$/, "") ?? url;
  const response = await fetch(`${endpoint}/v3/kv/deleterange`, {
    method: "POST",
    body: JSON.stringify({ key: base64(prefix), range_end: base64(prefixEnd(prefix)) }),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`etcd refused to delete ${prefix}: ${response.status} ${body}`);
}

/** The first key after every key that starts with `prefix` (its last byte plus one). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
