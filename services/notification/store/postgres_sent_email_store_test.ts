import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { postgresForTests } from "@shop/platform/testing";
import { PostgresSentEmailStore } from "./postgres_sent_email_store.ts";
import { sentEmailStoreContract } from "./sent_email_store_contract.ts";

const migrations = await readMigrations(new URL("./migrations/", import.meta.url));

sentEmailStoreContract("PostgresSentEmailStore", async () => {
  const db = await (await postgresForTests()).createDatabase({ label: "notification" });
  const sql = connectPostgres({ url: db.url, applicationName: "notification-store-test" });
  await migrate(sql, migrations);
  return {
    store: new PostgresSentEmailStore(sql),
    async cleanup() {
      await sql.end({ timeout: 5 });
      await db.drop();
    },
  };
});
