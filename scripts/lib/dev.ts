// deno-lint-ignore-file no-console -- a script: what it prints is its interface
/**
 * What `scripts/dev` runs: the stack's wiring (`stack/wiring.ts`, the same as the end-to-end tests') on
 * the fixed ports of 127.0.0.1 (`devPorts`), with its data under `.local/` and the observability parts
 * on. Ctrl-C (or SIGTERM) stops every process in reverse order. A start after a crash first kills what
 * the crashed run started (found by the mark `ProcessGroup` puts in their environment, so the pid files
 * that could name someone else's process are not trusted) and removes a dead server's `postmaster.pid`.
 * A program that exits on its own is started again, with backoff (`stack/supervisor.ts`); each restart
 * is printed with the end of its log, and `.local/run/status.json` counts them. The Deno plumbing (Stripe
 * simulator, edge bridge, log shipper, target writer) shares one process, `plumbing`, which is restarted
 * as a whole (`plumbingInOneProcess` in the wiring).
 *
 * To add a process, add it to the wiring.
 *
 * @module
 */
import { acceptsConnections, ProcessGroup } from "@shop/platform/testing";
import { ensureDevCertificates } from "@shop/platform/tls";
import { loadGatewaySettings } from "../../envoy/render_config.ts";
import { devAdmin } from "../../services/user/config.ts";
import { groupRunner } from "../../stack/runners.ts";
import { startDevServers } from "../../stack/servers.ts";
import { devPorts } from "../../stack/services.ts";
import { superviseGroup } from "../../stack/supervisor.ts";
import { launchStack } from "../../stack/wiring.ts";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const local = `${root}/.local`;

/**
 * Every port the dev stack binds: the fixed ones and the gateway's (from `SHOP_GATEWAY_*` when set).
 *
 * @example
 * ```ts ignore
 * for (const port of devStackPorts()) if (await acceptsConnections(port)) console.log(`${port} is taken`);
 * ```
 */
export function devStackPorts(): number[] {
  const { settings } = loadGatewaySettings([]);
  const { services, ...servers } = devPorts;
  return [...Object.values(servers), ...Object.values(services), settings.port, settings.statsPort];
}

async function main(): Promise<number> {
  await Deno.mkdir(local, { recursive: true });
  let group: ProcessGroup;
  try {
    // Kills whatever a crashed dev run left behind; refuses when a dev stack of this clone still runs.
    group = await ProcessGroup.create({ dir: `${local}/run` });
  } catch (error) {
    console.error(`dev: error: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
  const stopSignal = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });

  const started = Date.now();
  const starting = (async () => {
    for (const port of devStackPorts()) {
      if (await acceptsConnections(port)) {
        throw new Error(`port ${port} is taken by a process this stack did not start: ${await holder(port)}`);
      }
    }
    const certsDir = await ensureDevCertificates(`${root}/certs/dev`);
    return await launchStack({
      certsDir,
      dir: `${local}/envoy`,
      runner: groupRunner(group),
      servers: () => startDevServers(group, local, certsDir),
      ports: { stripeSimulator: devPorts.stripeSimulator, services: devPorts.services },
      mail: { smtp: devPorts.mailpitSmtp, http: devPorts.mailpitHttp, notification: devPorts.notification },
      // SHOP_GATEWAY_PORT and the other SHOP_GATEWAY_* variables apply, as to envoy/render_config.ts.
      gateway: (endpointsDir) => ({ ...loadGatewaySettings([]).settings, endpointsDir }),
      admin: {
        email: Deno.env.get("SHOP_ADMIN_EMAIL") || devAdmin.email,
        password: Deno.env.get("SHOP_ADMIN_PASSWORD") || devAdmin.password,
      },
      jwtKeysDir: `${certsDir}/jwt`,
      observability: { dir: local },
      // The simulator, the edge bridge, the log shipper and the target writer share one Deno runtime.
      plumbingInOneProcess: true,
      // V8's defaults for the services unless SHOP_DEV_SERVICE_V8_FLAGS says otherwise (scripts/dev).
      serviceV8Flags: Deno.env.get("SHOP_DEV_SERVICE_V8_FLAGS") ?? "",
      // Every trace recorded in dev (SHOP_TRACING_SAMPLE_RATIO lowers it).
      traceStore: {
        otlpHttpPort: devPorts.traceOtlpHttp,
        queryPort: devPorts.traceQuery,
        queryGrpcPort: devPorts.traceQueryGrpc,
        sampleRatio: Number(Deno.env.get("SHOP_TRACING_SAMPLE_RATIO") ?? "1"),
      },
      onProgress: (event, part) => {
        if (event === "starting") console.log(`dev: starting ${part}`);
      },
    });
  })();

  let stack: Awaited<typeof starting>;
  try {
    const first = await Promise.race([starting, stopSignal]);
    if (typeof first === "string") {
      console.log(`\ndev: ${first} while starting; stopping`);
      await group.stop();
      return 0;
    }
    stack = first;
  } catch (error) {
    console.error(`dev: error: ${error instanceof Error ? error.message : error}`);
    await group.stop();
    return 1;
  }

  console.log(
    `\ndev: the stack runs and routes to every service (${
      ((Date.now() - started) / 1000).toFixed(1)
    } s; Ctrl-C stops it)`,
  );
  for (const line of stack.summary) {
    const data = line.data === undefined ? "" : `  data: ${line.data}`;
    console.log(`  ${line.name.padEnd(19)} ${line.url.padEnd(42)}${data}`);
  }
  console.log(`  logs:               ${group.dir}/logs/<name>.log\n`);

  // One program that exits is a blip for the others: it is started again, with backoff.
  const statusFile = `${group.dir}/status.json`;
  const supervisor = superviseGroup(group, {
    onRestart: ({ name, count, delayMs, logTail }) => {
      console.log(
        `dev: ${name} exited; restarting it in ${
          delayMs / 1000
        } s (restart ${count}); its log ends with:\n${logTail}`,
      );
      const restarts = Object.fromEntries([...supervisor.restarts(), [name, count]]);
      console.log(
        `dev: restarts so far: ${Object.entries(restarts).map(([n, c]) => `${n} ${c}`).join(", ")}`,
      );
      void Deno.writeTextFile(statusFile, JSON.stringify({ restarts }, null, 2) + "\n").catch(() => {});
    },
  });

  const reason = await stopSignal;
  console.log(`\ndev: ${reason}; stopping`);
  await supervisor.stop();
  await group.stop();
  console.log("dev: stopped");
  return 0;
}

/** Who listens on a port, as `ss` tells it, for the error message. */
async function holder(port: number): Promise<string> {
  try {
    const out = await new Deno.Command("ss", { args: ["-Hltnp", `sport = :${port}`], stdout: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return text === "" ? "unknown" : text.replaceAll(/\s+/g, " ");
  } catch {
    return "unknown (no ss)";
  }
}

if (import.meta.main) Deno.exit(await main());
