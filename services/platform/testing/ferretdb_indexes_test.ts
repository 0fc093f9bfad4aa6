import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import postgres from "postgres";
import { ensureFerretDbLookupIndexes } from "./ferretdb_indexes.ts";
import { withFreePorts } from "./net.ts";
import { ProcessGroup } from "./process_group.ts";
import { ensurePostgresDatabase, startFerretDb } from "./servers.ts";
import { sharedServerUrl } from "./test_servers.ts";

Deno.test("FerretDB equality lookups are served by GIN indexes, on tables made before and after", async () => {
  const group = await ProcessGroup.create();
  const backend = await ensurePostgresDatabase(
    await sharedServerUrl("postgres"),
    `ferretdb_idx_${crypto.randomUUID().slice(0, 8)}`,
  );
  const sql = postgres(backend, { max: 1, onnotice: () => {} });
  try {
    const ferret = await withFreePorts(1, ([port = 0]) =>
      startFerretDb(group, {
        port,
        postgresUrl: backend,
        stateDir: `${group.dir}/ferretdb`,
        lookups: { things: ["_id", "color"] },
      }));
    const client = new MongoClient(ferret.url);
    try {
      const db = client.db("lookups");
      await db.collection("things").insertMany(
        Array.from(
          { length: 3000 },
          (_, i) => ({ _id: `t-${i}` as unknown as never, color: `c-${i % 300}` }),
        ),
      );
      await db.collection("others").insertOne({ size: 3 });
      // A collection that existed before its lookups were named gets its index too.
      assert.equal(await ensureFerretDbLookupIndexes(backend, { others: ["size"] }), 1);
      await ensureFerretDbLookupIndexes(backend, { others: ["size"] }); // idempotent

      const indexes = await sql<{ indexdef: string }[]>`
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'lookups' AND indexdef LIKE '%USING gin%'`;
      const fields = indexes.map((i) => /->\s*'(\w+)'/.exec(i.indexdef)?.[1]).sort();
      assert.deepEqual(fields, ["_id", "color", "size"]);
      // No pending list: a lookup never reads a list of unsorted new rows.
      assert.ok(indexes.every((i) => i.indexdef.includes("fastupdate=off")), JSON.stringify(indexes));
      // An index an earlier version built with a pending list is switched to none.
      const [sizeIndex] = await sql<{ name: string }[]>`
        SELECT indexname AS name FROM pg_indexes
        WHERE schemaname = 'lookups' AND indexname LIKE 'others%' AND indexdef LIKE '%USING gin%'`;
      await sql.unsafe(`ALTER INDEX lookups."${sizeIndex?.name}" SET (fastupdate = on)`);
      await ensureFerretDbLookupIndexes(backend, { others: ["size"] });
      const [altered] = await sql<{ indexdef: string }[]>`
        SELECT indexdef FROM pg_indexes WHERE schemaname = 'lookups' AND indexname = ${
        sizeIndex?.name ?? ""
      }`;
      assert.match(altered?.indexdef ?? "", /fastupdate=off/);

      assert.equal((await db.collection("things").find({ color: "c-2" }).toArray()).length, 10);
      assert.ok(await db.collection("things").findOne({ _id: "t-7" as unknown as never }));
      assert.ok(await db.collection("others").findOne({ size: 3 }));
      const [setting] = await sql<{ setconfig: string[] }[]>`
        SELECT setconfig FROM pg_db_role_setting WHERE setdatabase =
          (SELECT oid FROM pg_database WHERE datname = current_database())`;
      assert.ok(setting?.setconfig.includes("plan_cache_mode=force_custom_plan"));
      // The statement FerretDB prepares for an equality filter (the field name is a parameter) is
      // planned with the index, in a session with the database's settings.
      const tables = await sql<{ tablename: string }[]>`
        SELECT tablename FROM pg_tables WHERE schemaname = 'lookups' AND tablename LIKE 'things%'`;
      const table = `lookups."${tables[0]?.tablename}"`;
      await sql.unsafe(`ANALYZE ${table}`);
      for (const [field, value] of [["_id", '"t-7"'], ["color", '"c-2"']]) {
        const plan = await sql.begin(async (tx) => {
          await tx.unsafe(
            `PREPARE lookup_${field}(text, jsonb) AS SELECT _jsonb FROM ${table} WHERE _jsonb->$1 @> $2`,
          );
          return await tx.unsafe<{ "QUERY PLAN": string }[]>(
            `EXPLAIN EXECUTE lookup_${field}('${field}', '${value}')`,
          );
        });
        const text = plan.map((row) => row["QUERY PLAN"]).join("\n");
        assert.match(text, /Bitmap Index Scan on \S+_lookup/, `${field}: ${text}`);
      }
    } finally {
      await client.close();
    }
  } finally {
    await sql.end();
    await group.stop();
  }
});
