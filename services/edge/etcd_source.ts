/**
 * The registry as an {@linkcode EndpointSource}: the kit's resolver (`@shop/platform/discovery`) lists
 * and watches `/shop/services/<service>/<instance-id>` in etcd; every change is handed on as the complete
 * list of instances. An instance leaves the list when its lease ends (SIGKILL: within its TTL) or when it
 * deregisters (SIGTERM: at once).
 *
 * @module
 */
import {
  capacityMetadataKey,
  createResolver,
  type EtcdTarget,
  type Resolver,
} from "@shop/platform/discovery";
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

  constructor(options: { etcd: EtcdTarget; prefix?: string }) {
    this.#resolver = createResolver(
      options.prefix === undefined ? { etcd: options.etcd } : { etcd: options.etcd, prefix: options.prefix },
    );
  }

  /**
   * Every registered instance as IP endpoints. EDS takes only addresses, so an instance registered by
   * host name (a container: `product-1`) is resolved here, to every address the name has; one that does
   * not resolve is skipped and logged.
   */
  async #current(): Promise<Endpoint[]> {
    const found = await Promise.all(
      [...this.#resolver.services()].flatMap(([service, instances]) =>
        instances.map(async (instance): Promise<Endpoint[]> => {
          const capacity = Number(instance.metadata[capacityMetadataKey]);
          const announced = Number.isInteger(capacity) && capacity > 0 ? { capacity } : {};
          if (ipAddress.test(instance.address)) {
            return [{ service, address: instance.address, port: instance.port, ...announced }];
          }
          try {
            const addresses = await Deno.resolveDns(instance.address, "A");
            return addresses.map((address) => ({ service, address, port: instance.port, ...announced }));
          } catch (error) {
            this.#log.warning("Skipping {key}: {address} does not resolve: {error}", {
              key: instance.key,
              address: instance.address,
              error,
            });
            return [];
          }
        })
      ),
    );
    return found.flat();
  }

  async watch(onChange: (endpoints: readonly Endpoint[]) => void | Promise<void>): Promise<void> {
    await this.#resolver.ready(10_000);
    // Changes are handed on in order, each after the previous list was delivered.
    let delivered = Promise.resolve();
    this.#unsubscribe = this.#resolver.onChange(() => {
      delivered = delivered.then(async () => await onChange(await this.#current())).catch((error) =>
        this.#log.error("Delivering endpoints failed: {error}", { error })
      );
    });
    await onChange(await this.#current());
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    await this.#resolver.close();
  }
}
