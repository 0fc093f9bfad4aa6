/**
 * The compose one-shot `etcd-access` (Dockerfile target of the same name): turns authentication on in
 * compose's etcd (TLS with client certificates already) and gives every shop identity its etcd user,
 * which may read the registry and write only its own registrations (`grantRegistryAccess`, the same as
 * `deno task dev` and the tests). Idempotent: a second `docker compose up` changes nothing.
 *
 * Reads `SHOP_ETCD_ACCESS_*`: `ENDPOINTS` (https://etcd:2379), `CERTS_DIR` (the CA, the client
 * certificate and `etcd/*.password`, root's among them), `PREFIX` (/shop/services).
 *
 * @module
 */
import { string, stringList } from "@shop/platform/config";
import {
  enableEtcdAuth,
  etcdAccessOf,
  EtcdClient,
  grantRegistryAccess,
  readEtcdPasswords,
} from "@shop/platform/discovery";
import { logConfigSchema } from "@shop/platform/log";
import { startProcess } from "@shop/platform/service";

/** The one-shot's configuration (env prefix `SHOP_ETCD_ACCESS`). */
export const etcdAccessConfigSchema = {
  endpoints: stringList({ default: ["https://127.0.0.1:2379"] }),
  certsDir: string({ minLength: 1 }),
  prefix: string({ default: "/shop/services", pattern: /^\/[A-Za-z0-9/_.-]*$/ }),
  log: logConfigSchema(),
};

if (import.meta.main) {
  const { config, log } = await startProcess({
    service: "etcd-access",
    schema: etcdAccessConfigSchema,
    envPrefix: "SHOP_ETCD_ACCESS",
  });
  const passwords = await readEtcdPasswords(config.certsDir);
  const client = await etcdAccessOf({
    endpoints: config.endpoints,
    certsDir: config.certsDir,
    identity: "client",
  });
  // Before authentication is on: the client certificate, no user.
  const { auth: _noUserYet, ...tlsOnly } = client;
  const anonymous = new EtcdClient(tlsOnly);
  try {
    await enableEtcdAuth(anonymous, passwords.root);
  } finally {
    anonymous.close();
  }
  const root = new EtcdClient(
    await etcdAccessOf({ endpoints: config.endpoints, certsDir: config.certsDir, identity: "root" }),
  );
  try {
    await grantRegistryAccess(root, config.prefix, passwords.identities);
  } finally {
    root.close();
  }
  log.info("etcd: authentication on; users {users} may write their own registrations under {prefix}", {
    users: Object.keys(passwords.identities),
    prefix: config.prefix,
  });
}
