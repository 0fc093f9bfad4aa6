import assert from "node:assert/strict";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { postgresForTests } from "@shop/platform/testing";
import { paymentStoreContract } from "./payment_store_contract.ts";
import { PostgresPaymentStore } from "./postgres_payment_store.ts";

const migrations = await readMigrations(new URL("./migrations/", import.meta.url));

paymentStoreContract("PostgresPaymentStore", async () => {
  const db = await (await postgresForTests()).createDatabase({ label: "payment" });
  const sql = connectPostgres({ url: db.url, applicationName: "payment-store-test" });
  await migrate(sql, migrations);
  return {
    store: new PostgresPaymentStore(sql),
    async cleanup() {
      await sql.end({ timeout: 5 });
      await db.drop();
    },
  };
});

Deno.test("the database itself refuses refunds beyond the captured amount", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "payment_check" });
  const sql = connectPostgres({ url: db.url, applicationName: "payment-check-test" });
  try {
    await migrate(sql, migrations);
    const paymentId = crypto.randomUUID();
    const now = new Date();
    await sql`
      INSERT INTO payments (id, order_id, user_id, currency_code, amount_minor, payment_method, idempotency_key,
                            charge_status, create_time, update_time)
      VALUES (${paymentId}, ${crypto.randomUUID()}, ${crypto.randomUUID()}, 'USD', 1000, 'pm_card_visa', 'k',
              'succeeded', ${now}, ${now})`;
    const refund = (amount: number) =>
      sql`INSERT INTO refunds (id, payment_id, amount_minor, idempotency_key, status, create_time, update_time)
          VALUES (${crypto.randomUUID()}, ${paymentId}, ${amount}, ${crypto.randomUUID()}, 'succeeded', ${now}, ${now})`;
    await refund(600);
    // A raw INSERT that skips the store's checks still cannot take the total past the payment.
    await assert.rejects(refund(401), /refunds_within_amount/);
    await refund(400);
    const [row] = await sql<{ refund_reserved_minor: string }[]>`
      SELECT refund_reserved_minor FROM payments WHERE id = ${paymentId}`;
    assert.equal(row?.refund_reserved_minor, "1000");
  } finally {
    await sql.end({ timeout: 5 });
  }
});
