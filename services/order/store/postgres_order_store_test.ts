import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { postgresForTests } from "@shop/platform/testing";
import { orderStoreContract } from "./order_store_contract.ts";
import { PostgresOrderStore } from "./postgres_order_store.ts";

const migrations = await readMigrations(new URL("./migrations/", import.meta.url));

orderStoreContract("PostgresOrderStore", async () => {
  const db = await (await postgresForTests()).createDatabase({ label: "order" });
  const sql = connectPostgres({ url: db.url, applicationName: "order-store-test" });
  await migrate(sql, migrations);
  return {
    store: new PostgresOrderStore(sql),
    async cleanup() {
      await sql.end({ timeout: 5 });
      await db.drop();
    },
  };
});
