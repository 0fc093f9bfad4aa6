/**
 * The registry as an {@linkcode EndpointSource}: the kit's resolver (`@shop/platform/discovery`) lists
 * and watches `/shop/services/<service>/<instance-id>` in etcd; every change is handed on as the complete
 * list of instances. An instance leaves the list when its lease ends (SIGKILL: within its TTL) or when it
 * deregisters (SIGTERM: at once).
 *
 * @module
 */
import { createResolver, type Resolver } from "@shop/platform/discovery";
import { serviceLogger } from "@shop/platform/log";
import type { Endpoint, EndpointSource } from "./endpoint_source.ts";

const ipAddress = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/;

/**
 * Follows the registry in etcd.
 *
 * @example
 * ```ts ignore
 * const source = new EtcdEndpointSource({ etcd: "http://127.0.0.1:2379" });
 * await source.watch((endpoints) => console.log(endpoints));
 * await source.close();
 * ```
 */
export class EtcdEndpointSource implements EndpointSource {
  readonly #resolver: Resolver;
  #unsubscribe: (() => void) | undefined;
  readonly #log = serviceLogger("etcd-source");

  constructor(options: { etcd: string; prefix?: string }) {
    this.#resolver = createResolver(
      options.prefix === undefined ? { etcd: options.etcd } : { etcd: options.etcd, prefix: options.prefix },
    );
  }

  /** Every registered instance with an IP address (EDS cannot resolve host names; others are logged). */
  #current(): Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const [service, instances] of this.#resolver.services()) {
      for (const instance of instances) {
        if (ipAddress.test(instance.address)) {
          endpoints.push({ service, address: instance.address, port: instance.port });
        } else {
          this.#log.warning("Skipping {key}: {address} is not an IP address", {
            key: instance.key,
            address: instance.address,
          });
        }
      }
    }
    return endpoints;
  }

  async watch(onChange: (endpoints: readonly Endpoint[]) => void | Promise<void>): Promise<void> {
    await this.#resolver.ready(10_000);
    this.#unsubscribe = this.#resolver.onChange(() => void onChange(this.#current()));
    await onChange(this.#current());
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    await this.#resolver.close();
  }
}
