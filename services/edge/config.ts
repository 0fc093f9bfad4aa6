/**
 * The edge bridge's configuration schema (env prefix `SHOP_EDGE`; see the kit's README for layering).
 *
 * @module
 */
import { oneOf, string, stringList, url } from "@shop/platform/config";

/** Every key of the bridge, with its default. */
export const edgeConfigSchema = {
  endpoints: {
    /** The directory Envoy watches for `<service>.json` (the renderer's `endpoints.dir`). */
    dir: string({ minLength: 1 }),
  },
  /** Where endpoints come from: `etcd` (the registry) or `static` (the `static` list below). */
  source: oneOf(["etcd", "static"] as const, { default: "etcd" }),
  etcd: {
    url: url({ schemes: ["http", "https"], default: "http://127.0.0.1:2379" }),
    /** The registry's key prefix (`/shop/services`). */
    prefix: string({ default: "/shop/services", minLength: 1 }),
    /**
     * For an `https://` etcd: the directory of the CA and the `edge` certificate and key, and of
     * `etcd/edge.password` (the bridge's etcd user, which may read the registry).
     */
    certsDir: string({ default: "" }),
  },
  /** `service=address:port` entries for the static source; the dev ports by default. */
  static: stringList({
    default: [
      "user=127.0.0.1:50051",
      "product=127.0.0.1:50052",
      "order=127.0.0.1:50053",
      "payment=127.0.0.1:50054",
    ],
  }),
  log: { level: oneOf(["debug", "info", "warning", "error"] as const, { default: "info" }) },
};
