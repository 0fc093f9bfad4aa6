import assert from "node:assert/strict";
import { boolean, duration, oneOf, stringList, tcpPort, url } from "./fields.ts";
import { ConfigError, describeConfig, loadConfig } from "./load_config.ts";

const schema = {
  server: { port: tcpPort({ default: 50051 }), plaintext: boolean({ default: false }) },
  database: { url: url({ schemes: ["postgres"], secret: true }) },
  logLevel: oneOf(["debug", "info", "error"] as const, { default: "info" }),
  shutdownGrace: duration({ default: 10_000 }),
  etcdEndpoints: stringList({ default: ["http://127.0.0.1:2379"] }),
};
const database = "postgres://shop:hunter2@127.0.0.1:5432/users";

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("loadConfig() layers defaults < file < environment < flags", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify({ server: { port: 6000 }, logLevel: "debug" }));
    const env = { SHOP_USER_DATABASE_URL: database, SHOP_USER_SERVER_PORT: "7000" };
    const fromFileAndEnv = loadConfig(schema, { envPrefix: "SHOP_USER", env, args: [`--config=${file}`] });
    assert.equal(fromFileAndEnv.server.port, 7000);
    assert.equal(fromFileAndEnv.logLevel, "debug");
    assert.equal(fromFileAndEnv.shutdownGrace, 10_000);

    const withFlags = loadConfig(schema, {
      envPrefix: "SHOP_USER",
      env,
      args: [`--config=${file}`, "--server.port", "8000", "--shutdownGrace=2s", "--server.plaintext"],
    });
    assert.equal(withFlags.server.port, 8000);
    assert.equal(withFlags.shutdownGrace, 2000);
    assert.equal(withFlags.server.plaintext, true);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("loadConfig() names the key, the source and what was expected for a bad value", () => {
  const error = configError(() =>
    loadConfig(schema, {
      envPrefix: "SHOP_USER",
      env: { SHOP_USER_DATABASE_URL: database, SHOP_USER_SERVER_PORT: "eighty" },
    })
  );
  assert.equal(error.key, "server.port");
  assert.equal(
    error.message,
    'config: server.port: expected an integer from 0 to 65535, got "eighty" from SHOP_USER_SERVER_PORT',
  );
  assert.ok(!error.message.includes("\n"));
});

Deno.test("loadConfig() refuses unknown keys from every source", async () => {
  const env = { SHOP_USER_DATABASE_URL: database };
  assert.equal(
    configError(() => loadConfig(schema, { envPrefix: "SHOP_USER", env, args: ["--sever.port=1"] })).key,
    "sever.port",
  );
  assert.equal(
    configError(() => loadConfig(schema, { envPrefix: "SHOP_USER", env: { ...env, SHOP_USER_PROT: "1" } }))
      .key,
    "SHOP_USER_PROT",
  );
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify({ server: { prot: 1 } }));
    assert.equal(
      configError(() => loadConfig(schema, { envPrefix: "SHOP_USER", env, args: [`--config=${file}`] })).key,
      "server.prot",
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("loadConfig() requires keys without a default and never prints a secret", () => {
  const missing = configError(() => loadConfig(schema, { envPrefix: "SHOP_USER", env: {} }));
  assert.equal(missing.key, "database.url");
  assert.match(missing.message, /SHOP_USER_DATABASE_URL/);

  const badSecret = configError(() =>
    loadConfig(schema, { envPrefix: "SHOP_USER", env: { SHOP_USER_DATABASE_URL: "mysql://root:hunter2@db" } })
  );
  assert.equal(badSecret.key, "database.url");
  assert.ok(!badSecret.message.includes("hunter2"), badSecret.message);
});

Deno.test("describeConfig() masks secrets and keeps the rest", () => {
  const config = loadConfig(schema, { envPrefix: "SHOP_USER", env: { SHOP_USER_DATABASE_URL: database } });
  const shown = describeConfig(schema, config);
  assert.equal(JSON.stringify(shown).includes("hunter2"), false);
  assert.deepEqual(shown.database, { url: "<secret>" });
  assert.deepEqual(shown.server, { port: 50051, plaintext: false });
});

Deno.test("a field's extra environment variable sets it", () => {
  const adminSchema = {
    admin: { email: url({ schemes: ["mailto"], env: ["SHOP_ADMIN_EMAIL"], default: "mailto:a@b" }) },
  };
  const config = loadConfig(adminSchema, {
    envPrefix: "SHOP_USER",
    env: { SHOP_ADMIN_EMAIL: "mailto:root@shop.test" },
  });
  assert.equal(config.admin.email, "mailto:root@shop.test");
});
