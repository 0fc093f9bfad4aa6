/**
 * The compose one-shot `etcd-access` (Dockerfile target of the same name): turns authentication on in
 * compose's etcd (TLS with client certificates already) and gives every shop identity its etcd user,
 * which may read the registry and write only its own registrations (`grantRegistryAccess`, the same as
 * `deno task dev` and the tests), with the password mounted for it (an existing user's is set again, so
 * a password changed in the files takes effect). Idempotent: a second `docker compose up` changes
 * nothing. The Helm
 * chart runs the same image as a post-install and post-upgrade hook Job (deploy/helm/shop,
 * `templates/etcd_access.yaml`).
 *
 * Reads `SHOP_ETCD_ACCESS_*`: `ENDPOINTS` (https://etcd:2379), `CERTS_DIR` (the CA, the client
 * certificate and `etcd/*.password`, root's among them), `PREFIX` (/shop/services).
 *
 * @module
 */
import { string, stringList } from "@shop/platform/config";
import { enableEtcdAuthFrom, grantRegistryAccessFrom } from "@shop/platform/discovery";
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
  await enableEtcdAuthFrom(config.endpoints, config.certsDir);
  // The passwords mounted here are the truth: one changed in the deployment's Secret takes effect now.
  const users = await grantRegistryAccessFrom(config.endpoints, config.certsDir, config.prefix, {
    resetPasswords: true,
  });
  log.info("etcd: authentication on; users {users} may write their own registrations under {prefix}", {
    users,
    prefix: config.prefix,
  });
}
