// deno-lint-ignore-file no-console -- a script: what it prints is its interface
/**
 * The minimal reproduction of the crash found by the stress hunt (issue 21 item 1; stress/README.md): a
 * `node:http2` server in Deno 2.9.6 dies with SIGABRT (nghttp2's assertion `stream->closed_next == NULL`
 * in `find_stream_on_goaway_func`, or glibc's `free(): invalid pointer`) or SIGSEGV when a client closes
 * its HTTP/2 connection (a GOAWAY frame) after about 180 or more requests on it. Nothing of the shop is
 * involved: a plain h2c server whose handlers answer after 20 ms, and Deno's own `fetch` as the client
 * (one `Deno.HttpClient`, N concurrent requests, all answered, then `client.close()`), in rounds.
 *
 * ```sh
 * deno run -A stress/goaway_repro.ts                  # 5 runs of 20 rounds of 200 requests
 * deno run -A stress/goaway_repro.ts --workaround     # the server defers session.destroy() (the kit's fix)
 * deno run -A stress/goaway_repro.ts --requests=150 --runs=3 --dir=/tmp/repro
 * ```
 *
 * Each run's server and client are child processes with core dumps on (`ulimit -c unlimited`; a core lands
 * in the run's directory when the kernel's `core_pattern` is the plain `core`), their stderr kept there
 * too. It prints, per run, how many rounds the client finished and how the server ended.
 *
 * @module
 */
import * as http2 from "node:http2";
import { deferSessionDestroy } from "../services/platform/server/session_guard.ts";

const flags = new Map(Deno.args.map((arg) => {
  const [key = "", value = "true"] = arg.replace(/^--/, "").split("=");
  return [key, value];
}));

async function serve(port: number, workaround: boolean): Promise<void> {
  const server = http2.createServer();
  server.on("session", (session) => {
    session.on("error", () => {});
    session.on("goaway", (code: number) => console.error(`goaway received, code ${code}`));
    if (workaround) deferSessionDestroy(session);
  });
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.on("error", () => {});
    stream.resume();
    setTimeout(() => {
      if (stream.closed || stream.destroyed) return;
      stream.respond({ ":status": 200 });
      stream.end("ok");
    }, 20);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  console.error("listening");
}

async function client(port: number, requests: number, rounds: number): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    const httpClient = Deno.createHttpClient({ http1: false, http2: true });
    const answers = await Promise.all(Array.from(
      { length: requests },
      () =>
        fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}", client: httpClient })
          .then((response) => response.arrayBuffer())
          .then(() => true, () => false),
    ));
    // Closing the client sends GOAWAY on its connection: this is what the server does not survive.
    httpClient.close();
    const answered = answers.filter(Boolean).length;
    console.error(`round ${round}: ${answered}/${requests} answered`);
    if (answered < requests) return;
  }
}

function child(args: string[], dir: string, name: string): Deno.ChildProcess {
  const script = new URL(import.meta.url).pathname;
  const command = `ulimit -c unlimited; exec "${Deno.execPath()}" run -A "${script}" ${
    args.join(" ")
  } 2>${name}.err`;
  return new Deno.Command("bash", { args: ["-c", command], cwd: dir, stdout: "null", stderr: "null" })
    .spawn();
}

function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function main(): Promise<void> {
  const role = flags.get("role");
  const port = Number(flags.get("port") ?? 0);
  const requests = Number(flags.get("requests") ?? 200);
  const rounds = Number(flags.get("rounds") ?? 20);
  if (role === "server") return await serve(port, flags.has("workaround"));
  if (role === "client") {
    await client(port, requests, rounds);
    Deno.exit(0);
  }

  const runs = Number(flags.get("runs") ?? 5);
  const workaround = flags.has("workaround");
  const dir = flags.get("dir") ?? await Deno.makeTempDir({ prefix: "shop-goaway-repro-" });
  console.log(
    `Deno ${Deno.version.deno}; ${runs} runs of ${rounds} rounds of ${requests} requests on one connection, ` +
      `then client.close(); workaround ${workaround ? "on" : "off"}; files in ${dir}`,
  );
  let crashed = 0;
  for (let run = 1; run <= runs; run++) {
    const runDir = `${dir}/run-${run}`;
    await Deno.mkdir(runDir, { recursive: true });
    const serverPort = freeLoopbackPort();
    const server = child(
      ["--role=server", `--port=${serverPort}`, ...(workaround ? ["--workaround"] : [])],
      runDir,
      "server",
    );
    const deadline = Date.now() + 30_000;
    while (!(await Deno.readTextFile(`${runDir}/server.err`).catch(() => "")).includes("listening")) {
      if (Date.now() > deadline) throw new Error(`run ${run}: the server did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await child(
      ["--role=client", `--port=${serverPort}`, `--requests=${requests}`, `--rounds=${rounds}`],
      runDir,
      "client",
    ).status;
    // The server may still be dying of the last round.
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      server.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const status = await server.status;
    // bash execs deno: a signal is the deno process's own.
    const died = status.signal !== null && status.signal !== "SIGTERM";
    if (died) crashed++;
    const lines = (await Deno.readTextFile(`${runDir}/client.err`).catch(() => "")).split("\n");
    const finished = lines.filter((line) => new RegExp(`^round \\d+: ${requests}/`).test(line)).length;
    const last = (await Deno.readTextFile(`${runDir}/server.err`).catch(() => "")).trim().split("\n").at(-1);
    const core = await Deno.stat(`${runDir}/core`).then(() => "core dumped", () => "no core");
    console.log(
      `run ${run}: ${finished}/${rounds} rounds answered in full; server ${
        died ? `DIED with ${status.signal} (${core}); its stderr ends: ${last}` : "alive until stopped"
      }`,
    );
  }
  console.log(`${crashed} of ${runs} runs crashed the server`);
}

await main();
