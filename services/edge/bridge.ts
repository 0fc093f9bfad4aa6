/**
 * The bridge: follows an {@linkcode EndpointSource} and keeps Envoy's EDS files in step with it.
 *
 * @module
 */
import { serviceLogger } from "@shop/platform/log";
import type { Endpoint, EndpointSource } from "./endpoint_source.ts";
import { writeEndpointFiles } from "./eds_files.ts";

/** Options of {@linkcode startBridge}. */
export interface BridgeOptions {
  source: EndpointSource;
  /** The directory Envoy watches (`endpoints.dir`). */
  dir: string;
  /** The clusters to write a file for, every time (a service with no instance gets an empty file). */
  services: readonly string[];
}

/** A running bridge. */
export interface Bridge {
  /** How many times the files have been written. */
  readonly writes: number;
  /** Stops following the source; the files stay as they are. */
  stop(): Promise<void>;
}

/**
 * Writes the EDS files for the source's current endpoints, then again after every change; writes are
 * serialized, and a burst of changes is written once with the latest list.
 *
 * @example
 * ```ts ignore
 * const source = new StaticEndpointSource([{ service: "user", address: "127.0.0.1", port: 50051 }]);
 * const bridge = await startBridge({ source, dir: ".local/envoy/endpoints", services: ["user"] });
 * await bridge.stop();
 * ```
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const log = serviceLogger("bridge");
  let writes = 0;
  let sequence = 0;
  let latest: readonly Endpoint[] | undefined;
  let running: Promise<void> = Promise.resolve();

  const flush = async () => {
    const endpoints = latest;
    if (endpoints === undefined) return;
    latest = undefined;
    // A version that never repeats, even across restarts of the bridge.
    const version = `${Date.now()}-${++sequence}`;
    await writeEndpointFiles(options.dir, options.services, endpoints, version);
    writes++;
    log.info("Wrote endpoints {version}: {endpoints}", {
      version,
      endpoints: endpoints.map((e) => `${e.service}=${e.address}:${e.port}`),
    });
  };

  const onChange = (endpoints: readonly Endpoint[]): Promise<void> => {
    latest = endpoints;
    running = running.then(flush).catch((error) => {
      log.error("Writing the endpoint files failed: {error}", { error });
    });
    return running;
  };

  await options.source.watch(onChange);
  return {
    get writes() {
      return writes;
    },
    async stop() {
      await options.source.close();
      await running;
    },
  };
}
