import assert from "node:assert/strict";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { postgresForTests } from "@shop/platform/testing";
import { PostgresUserStore } from "./postgres_user_store.ts";
import { userStoreContract } from "./user_store_contract.ts";

const migrations = await readMigrations(new URL("./migrations/", import.meta.url));

userStoreContract("PostgresUserStore", async () => {
  const db = await (await postgresForTests()).createDatabase({ label: "user" });
  const sql = connectPostgres({ url: db.url, applicationName: "user-store-test" });
  await migrate(sql, migrations);
  return {
    store: new PostgresUserStore(sql),
    async cleanup() {
      await sql.end({ timeout: 5 });
      await db.drop();
    },
  };
});

Deno.test("migrations are applied once even when two instances start at the same moment", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_migrate" });
  const pools = [0, 1, 2].map(() => connectPostgres({ url: db.url, applicationName: "migrate-test" }));
  try {
    const applied = await Promise.all(pools.map((sql) => migrate(sql, migrations)));
    assert.deepEqual(applied.sort(), [0, 0, migrations.length]);
    const first = pools[0];
    assert.ok(first);
    const rows = await first`SELECT version FROM schema_migrations`;
    assert.equal(rows.length, migrations.length);
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 5 })));
  }
});

Deno.test("no password or refresh token is stored in plaintext", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_secrets" });
  const sql = connectPostgres({ url: db.url, applicationName: "secrets-test" });
  try {
    await migrate(sql, migrations);
    const columns = await sql<{ column_name: string }[]>`
      SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'`;
    const names = columns.map((c) => c.column_name);
    assert.ok(names.includes("password_hash") && names.includes("token_hash"));
    assert.ok(!names.some((name) => name === "password" || name === "refresh_token" || name === "token"));
  } finally {
    await sql.end({ timeout: 5 });
  }
});
