import assert from "node:assert/strict";
import { envoyBinary } from "./envoy.ts";
import { toolVersion } from "./tools.ts";

async function envoy(...args: string[]): Promise<{ success: boolean; output: string }> {
  const out = await new Deno.Command(envoyBinary(), { args, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { success: out.success, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("envoyBinary() runs the pinned Envoy", async () => {
  const { success, output } = await envoy("--version");
  assert.ok(success, output);
  if (Deno.env.get("SHOP_ENVOY_BIN") === undefined) {
    assert.match(output, new RegExp(`/${toolVersion("envoy")}/`));
  }
});

Deno.test("envoyBinary() validates a configuration without serving it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shop-envoy-test-" });
  try {
    const valid = `${dir}/valid.yaml`;
    await Deno.writeTextFile(
      valid,
      `
static_resources:
  listeners:
  - name: gateway
    address: { socket_address: { address: 127.0.0.1, port_value: 8443 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: gateway
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: "ok" } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`,
    );
    const ok = await envoy("--mode", "validate", "-c", valid, "--use-dynamic-base-id");
    assert.ok(ok.success, ok.output);

    const invalid = `${dir}/invalid.yaml`;
    await Deno.writeTextFile(
      invalid,
      "static_resources:\n  listeners:\n  - name: broken\n    no_such_field: 1\n",
    );
    const bad = await envoy("--mode", "validate", "-c", invalid, "--use-dynamic-base-id");
    assert.equal(bad.success, false, "a configuration with an unknown field must not validate");
    assert.match(bad.output, /no_such_field/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
