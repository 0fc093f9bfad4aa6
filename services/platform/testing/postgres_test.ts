import assert from "node:assert/strict";
import postgres from "postgres";
import { postgresForTests } from "./postgres.ts";

Deno.test("postgresForTests() gives each suite its own database", async () => {
  const pg = await postgresForTests();
  await using first = await pg.createDatabase({ label: "first" });
  await using second = await pg.createDatabase({ label: "second" });
  assert.notEqual(first.name, second.name);
  assert.match(first.name, /^first_/);

  const a = postgres(first.url, { onnotice: () => {} });
  const b = postgres(second.url, { onnotice: () => {} });
  try {
    await a`CREATE TABLE orders (id text PRIMARY KEY)`;
    await a`INSERT INTO orders (id) VALUES ('o-1')`;
    assert.deepEqual([...await a`SELECT id FROM orders`], [{ id: "o-1" }]);
    const [found] = await b`SELECT to_regclass('public.orders') AS orders`;
    assert.equal(found?.orders, null, "the second suite's database must not see the first one's table");
  } finally {
    await a.end();
    await b.end();
  }
});

Deno.test("postgresForTests() serves a real PostgreSQL 15 that enforces unique constraints", async () => {
  await using db = await (await postgresForTests()).createDatabase();
  const sql = postgres(db.url, { onnotice: () => {} });
  try {
    const [row] = await sql`SHOW server_version`;
    assert.match(String(row?.server_version), /^15\./);
    await sql`CREATE TABLE users (email text UNIQUE)`;
    await sql`INSERT INTO users VALUES ('ada@example.com')`;
    await assert.rejects(
      sql`INSERT INTO users VALUES ('ada@example.com')`,
      (error: unknown) => error instanceof postgres.PostgresError && error.code === "23505",
    );
  } finally {
    await sql.end();
  }
});

Deno.test("PostgresTestDatabase.drop() removes the database even while a connection is open", async () => {
  const pg = await postgresForTests();
  const db = await pg.createDatabase();
  const user = postgres(db.url, { onnotice: () => {} });
  const admin = postgres(pg.url, { onnotice: () => {} });
  try {
    await user`SELECT 1`;
    await db.drop();
    const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${db.name}`;
    assert.equal(rows.length, 0);
  } finally {
    await user.end().catch(() => {});
    await admin.end();
  }
});
