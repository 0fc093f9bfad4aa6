/**
 * The security suite's scanners against a whole stack (issue 17): the OpenAPI document the gateway serves,
 * sslyze on the gateway and on a service's mTLS port, and schemathesis on every operation of the document
 * through Envoy, anonymous, as a customer and as an admin.
 *
 * schemathesis runs with a fixed seed and example budget (`SHOP_SCHEMATHESIS_MAX_EXAMPLES`, 10 by
 * default: about 15 s per identity on an idle 2-core machine) and these checks: no 5xx, every status code
 * and body as the document says (the JSON error shape included), and no request that breaks a documented
 * constraint accepted.
 */
import assert from "node:assert/strict";
import { startStack } from "./stack.ts";
import { restClient } from "./rest.ts";
import { securityToolPath, type SslyzeScan, tlsPolicyBreaches } from "./security_tools.ts";

const committedDocument = new URL("../proto/gen/openapi.json", import.meta.url);
const maxExamples = Number(Deno.env.get("SHOP_SCHEMATHESIS_MAX_EXAMPLES") ?? "10");
const seed = Deno.env.get("SHOP_SCHEMATHESIS_SEED") ?? "17";

const decoder = new TextDecoder();

/** Runs sslyze against `target` and returns the result of its one server. */
async function sslyze(target: string, caFile: string, clientCert?: { cert: string; key: string }) {
  const dir = await Deno.makeTempDir({ prefix: "shop-sslyze-" });
  try {
    const out = await new Deno.Command(securityToolPath("sslyze", "sslyze"), {
      args: [
        "--quiet",
        `--json_out=${dir}/scan.json`,
        "--sslv2",
        "--sslv3",
        "--tlsv1",
        "--tlsv1_1",
        "--tlsv1_2",
        "--tlsv1_3",
        "--compression",
        "--reneg",
        "--heartbleed",
        "--openssl_ccs",
        "--certinfo",
        `--certinfo_ca_file=${caFile}`,
        ...(clientCert === undefined ? [] : ["--cert", clientCert.cert, "--key", clientCert.key]),
        target,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { PYTHONWARNINGS: "ignore" },
    }).output();
    assert.ok(out.success, `sslyze failed: ${decoder.decode(out.stdout)}${decoder.decode(out.stderr)}`);
    const report = JSON.parse(await Deno.readTextFile(`${dir}/scan.json`));
    const scan = report.server_scan_results?.[0] as SslyzeScan | undefined;
    assert.equal(scan?.scan_status, "COMPLETED", JSON.stringify(report).slice(0, 2000));
    return scan;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("security scanners: the OpenAPI document, TLS of the gateway and a service, and schemathesis through Envoy", async (t) => {
  await using stack = await startStack({ label: "security_scan" });
  const rest = restClient(stack);

  await t.step("the gateway serves the committed OpenAPI document at GET /openapi.json", async () => {
    const response = await fetch(`${stack.url}/openapi.json`, { client: stack.client() });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await response.json(), JSON.parse(await Deno.readTextFile(committedDocument)));
  });

  await t.step(
    "sslyze: the gateway offers TLS 1.2 and 1.3 with AEAD suites only, on a chain of the dev CA",
    async () => {
      const port = new URL(stack.url).port;
      const scan = await sslyze(`127.0.0.1:${port}`, `${stack.certsDir}/ca.crt`);
      assert.deepEqual(tlsPolicyBreaches(scan), []);
    },
  );

  await t.step("sslyze: so does a service's mTLS port (scanned with a client certificate)", async () => {
    const user = stack.instances("user")[0];
    assert.ok(user !== undefined, "the stack runs a user service");
    const scan = await sslyze(`127.0.0.1:${user.port}`, `${stack.certsDir}/ca.crt`, {
      cert: `${stack.certsDir}/gateway.crt`,
      key: `${stack.certsDir}/gateway.key`,
    });
    assert.deepEqual(tlsPolicyBreaches(scan), []);
  });

  const customer = {
    email: "fuzzed-customer@example.com",
    password: "a customer secret",
    displayName: "Fuzz",
  };
  const registered = await rest("POST", "/v1/users:register", { body: customer });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  const tokenOf = async (credentials: { email: string; password: string }) => {
    const reply = await rest("POST", "/v1/auth:login", {
      body: { email: credentials.email, password: credentials.password },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return String(reply.body.accessToken);
  };
  const identities: Array<[string, string | undefined]> = [
    ["anonymous", undefined],
    ["a customer", await tokenOf(customer)],
    ["an admin", await tokenOf(stack.admin)],
  ];
  for (const [who, token] of identities) {
    await t.step(
      `schemathesis, ${who}: no 5xx, answers as documented, no invalid request accepted`,
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "shop-schemathesis-" });
        try {
          const out = await new Deno.Command(securityToolPath("schemathesis", "st"), {
            args: [
              "run",
              `${stack.url}/openapi.json`,
              `--url=${stack.url}`,
              `--tls-verify=${stack.certsDir}/ca.crt`,
              ...(token === undefined ? [] : ["--header", `Authorization: Bearer ${token}`]),
              `--max-examples=${maxExamples}`,
              `--seed=${seed}`,
              "--phases=examples,coverage,fuzzing",
              "--checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection",
              "--request-timeout=20",
              "--warnings=off",
              "--no-color",
            ],
            cwd: dir,
            stdout: "piped",
            stderr: "piped",
            env: { SCHEMATHESIS_HOOKS: "", NO_COLOR: "1" },
          }).output();
          const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
          const failures = text.slice(Math.max(text.indexOf("FAILURES"), text.indexOf("ERRORS"), 0));
          assert.ok(out.success, `schemathesis found problems (${who}):\n${failures.slice(0, 12_000)}`);
          assert.match(text, /\d+ generated, \d+ passed/, text.slice(-2000));
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  }
});
