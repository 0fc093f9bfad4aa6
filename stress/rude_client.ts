/**
 * The one driver of the stress run that speaks `node:http2` (and so runs as a child process of its own,
 * which may crash without ending the run): a client that opens a session to a service over mTLS, starts
 * streams, and then sends GOAWAY with ENHANCE_YOUR_CALM while they are open, as a peer that gives up on a
 * connection does. Against Deno 2.9.6's `node:http2` server without the kit's workaround this crashes the
 * server (stress/goaway_repro.ts).
 *
 * `deno run -A stress/rude_client.ts --url=https://127.0.0.1:PORT --certs=DIR --seconds=60`
 *
 * @module
 */
import * as http2 from "node:http2";
import { readTlsFiles } from "../services/platform/tls/tls_files.ts";

const flags = new Map(Deno.args.map((arg) => {
  const [key = "", value = "true"] = arg.replace(/^--/, "").split("=");
  return [key, value];
}));
const url = flags.get("url") ?? "";
const tls = await readTlsFiles(flags.get("certs") ?? "", "gateway");
const until = Date.now() + Number(flags.get("seconds") ?? 60) * 1000;
let rounds = 0;
let refused = 0;
while (Date.now() < until) {
  const session = http2.connect(url, { ca: tls.ca, cert: tls.cert, key: tls.key });
  session.on("error", () => {});
  const connected = await Promise.race([
    new Promise<boolean>((resolve) => session.once("connect", () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
  ]);
  if (connected) {
    for (let i = 0; i < 20; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": "/shop.product.v1.ProductService/ListProducts",
        "content-type": "application/json",
      });
      stream.on("error", () => {});
      stream.resume();
      stream.end(JSON.stringify({ pageSize: 20 }));
    }
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 30));
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    rounds++;
  } else {
    refused++;
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  session.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}
Deno.stderr.writeSync(new TextEncoder().encode(`rude client: ${rounds} GOAWAYs sent, ${refused} refused\n`));
Deno.exit(0);
