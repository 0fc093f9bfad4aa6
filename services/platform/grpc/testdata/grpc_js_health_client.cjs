// A real @grpc/grpc-js client, run by Node (not Deno: grpc-js inside Deno is known to lose stream
// messages), that the process tests point at a shop server. It loads health.proto with proto-loader,
// as a service written in Node would, and prints one JSON line per answer on stdout.
//
//   node grpc_js_health_client.cjs check ADDRESS SERVICE...   one line per service: status or error code
//   node grpc_js_health_client.cjs watch ADDRESS SERVICE      one line per status, then {"end": code}
// With SHOP_GRPC_CA, SHOP_GRPC_CERT and SHOP_GRPC_KEY (PEM file paths) set, it connects over mTLS.
"use strict";
const path = require("node:path");
const { createRequire } = require("node:module");

// Resolved from the workspace's node_modules (Deno's `nodeModulesDir: "auto"` puts grpc-js there);
// proto-loader is grpc-js's own dependency, so it is resolved from beside grpc-js.
const grpcPath = require.resolve("@grpc/grpc-js");
const grpc = require(grpcPath);
const protoLoader = createRequire(grpcPath)("@grpc/proto-loader");

const [mode, address, ...services] = process.argv.slice(2);
const protoRoot = path.join(__dirname, "..", "..", "..", "..", "proto", "third_party");
const definition = protoLoader.loadSync("grpc/health/v1/health.proto", {
  includeDirs: [protoRoot],
  enums: String,
});
const { Health } = grpc.loadPackageDefinition(definition).grpc.health.v1;
const fs = require("node:fs");
const { SHOP_GRPC_CA: ca, SHOP_GRPC_CERT: cert, SHOP_GRPC_KEY: key } = process.env;
const credentials = ca
  ? grpc.credentials.createSsl(
    fs.readFileSync(ca),
    key ? fs.readFileSync(key) : null,
    cert ? fs.readFileSync(cert) : null,
  )
  : grpc.credentials.createInsecure();
const client = new Health(address, credentials);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

function check(service) {
  return new Promise((resolve) => {
    client.check({ service }, { deadline: Date.now() + 5_000 }, (error, response) => {
      print(error ? { service, code: error.code } : { service, status: response.status });
      resolve();
    });
  });
}

if (mode === "check") {
  (async () => {
    for (const service of services) await check(service);
    client.close();
  })();
} else if (mode === "watch") {
  const call = client.watch({ service: services[0] ?? "" });
  call.on("data", (response) => print({ status: response.status }));
  // grpc-js reports a non-OK end as "error" and every end as "status"; the status line is enough.
  call.on("error", () => {});
  call.on("status", (status) => {
    print({ end: status.code });
    client.close();
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
