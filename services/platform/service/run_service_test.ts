import assert from "node:assert/strict";
import { eventually } from "../testing/eventually.ts";
import { startServiceProcess } from "../testing/service_process.ts";
import { ensureDevCertificates } from "../tls/tls_files.ts";

const script = new URL("./testdata/job_service.ts", import.meta.url);

Deno.test("runService() serves, and on SIGTERM waits for a job's run in progress before closing", async () => {
  await using service = await startServiceProcess(script, {
    env: {
      SHOP_JOBTEST_TLS_CERTS_DIR: await ensureDevCertificates(),
      SHOP_JOBTEST_DISCOVERY_ENABLED: "false",
      SHOP_JOBTEST_SERVER_PRE_STOP_DELAY: "0ms",
      SHOP_JOBTEST_RUN_MS: "1s",
    },
  });
  const messages = () => service.logs.map((line) => String(line.message));
  assert.ok(messages().some((m) => m.startsWith("Starting with")), "the configuration is logged first");
  await eventually("a job run starts", () => messages().includes("Job run started"));
  service.signal("SIGTERM");
  assert.equal((await service.child.status).code, 0);
  const order = messages().filter((m) => m.startsWith("Job run") || m === "Close hook ran");
  assert.deepEqual(order.slice(-2), ["Job run ended", "Close hook ran"]);
  assert.equal(order.filter((m) => m === "Job run started").length, 1, "no run starts once shutdown began");
});

Deno.test("runService() ends the start with status 2 and one line on a bad key", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script.pathname],
    env: { SHOP_JOBTEST_TLS_CERTS_DIR: "/nowhere", SHOP_JOBTEST_RUN_MS: "soon" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /runMs/);
});
