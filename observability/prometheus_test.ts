/**
 * The gate's checks of the Prometheus and Alertmanager configuration: `promtool check config` on the
 * rendered configuration (with the real rule files and certificates), `promtool test rules` (every alert
 * firing and not firing, alerts_test.yml), `amtool check-config`.
 */
import assert from "node:assert/strict";
import { ensureDevCertificates } from "@shop/platform/tls";
import { alertmanagerConfigPath, observabilityTool, prometheusConfig } from "./servers.ts";

const rulesDir = new URL("./rules/", import.meta.url).pathname;

async function run(command: string, args: string[], cwd?: string): Promise<{ ok: boolean; output: string }> {
  const out = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  })
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { ok: out.success, output: `${decode(out.stdout)}${decode(out.stderr)}` };
}

Deno.test("promtool accepts the rendered Prometheus configuration with its rule files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shop-prometheus-config-" });
  try {
    const targetsFile = `${dir}/targets.json`;
    await Deno.writeTextFile(targetsFile, "[]\n");
    const config = prometheusConfig({
      scrapeInterval: "15s",
      targetsFile,
      certsDir: await ensureDevCertificates(),
      envoyTargets: ["127.0.0.1:9901"],
      alertmanagers: ["127.0.0.1:9093"],
    });
    await Deno.writeTextFile(`${dir}/prometheus.yml`, JSON.stringify(config, null, 2));
    const result = await run(observabilityTool("prometheus", "promtool"), [
      "check",
      "config",
      `${dir}/prometheus.yml`,
    ]);
    assert.ok(result.ok, result.output);
    assert.match(result.output, /SUCCESS: 13 rules found/);
    assert.match(result.output, /SUCCESS: 11 rules found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every alert fires when it should and stays quiet when it should (promtool test rules)", async () => {
  const result = await run(
    observabilityTool("prometheus", "promtool"),
    ["test", "rules", "alerts_test.yml"],
    rulesDir,
  );
  assert.ok(result.ok, result.output);
  assert.match(result.output, /SUCCESS/);
});

Deno.test("every alert of alerts.yml has a firing test in alerts_test.yml", async () => {
  const alerts = [...(await Deno.readTextFile(`${rulesDir}/alerts.yml`)).matchAll(/- alert: (\w+)/g)]
    .map((m) => m[1]);
  const tests = await Deno.readTextFile(`${rulesDir}/alerts_test.yml`);
  for (const alert of alerts) {
    // A firing case names the alert and expects at least one alert right after it.
    const firing = new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`);
    const quiet = new RegExp(`alertname: ${alert}\\n\\s+exp_alerts: \\[\\]`);
    assert.match(tests, firing, `${alert} has no test where it fires`);
    assert.match(tests, quiet, `${alert} has no test where it stays quiet`);
  }
  assert.equal(alerts.length, 11);
});

Deno.test("amtool accepts the Alertmanager configuration", async () => {
  const result = await run(observabilityTool("alertmanager", "amtool"), [
    "check-config",
    alertmanagerConfigPath,
  ]);
  assert.ok(result.ok, result.output);
});
