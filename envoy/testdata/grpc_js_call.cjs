// One unary call with a real @grpc/grpc-js client (native gRPC over HTTP/2 with TLS), run by Node: grpc-js
// inside Deno is unreliable (see PLATFORM.md). It needs no .proto: the request is given as hex bytes and
// the answer printed as hex, so a test can send any message it encodes itself.
//
//   SHOP_GRPC_CA=ca.crt [SHOP_GRPC_TOKEN=jwt] [SHOP_GRPC_CLAIMS=b64] node grpc_js_call.cjs ADDRESS PATH [HEX]
// prints one JSON line: {"code": 0, "response": "<hex>"} or {"code": N, "details": "..."}.
"use strict";
const fs = require("node:fs");
const grpc = require(require.resolve("@grpc/grpc-js"));

const [address, path, hex = ""] = process.argv.slice(2);
const { SHOP_GRPC_CA: ca, SHOP_GRPC_TOKEN: token, SHOP_GRPC_CLAIMS: claims } = process.env;
const client = new grpc.Client(address, grpc.credentials.createSsl(fs.readFileSync(ca)));
const metadata = new grpc.Metadata();
if (token) metadata.set("authorization", `Bearer ${token}`);
if (claims) metadata.set("x-jwt-payload", claims);
const identity = (buffer) => buffer;
client.makeUnaryRequest(
  path,
  identity,
  identity,
  Buffer.from(hex, "hex"),
  metadata,
  { deadline: Date.now() + 10_000 },
  (error, response) => {
    process.stdout.write(
      `${
        JSON.stringify(
          error
            ? { code: error.code, details: error.details }
            : { code: 0, response: response.toString("hex") },
        )
      }\n`,
    );
    client.close();
  },
);
