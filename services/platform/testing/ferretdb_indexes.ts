/**
 * FerretDB-only set-up of the PostgreSQL database under a local FerretDB 1.24, working around FerretDB
 * issue #4646: the btree expression indexes that `createIndexes` builds cannot serve the `@>` filters
 * that FerretDB pushes down for top-level equality (`_jsonb->'field' @> value`), so every equality
 * lookup reads the whole table. A GIN expression index on `(_jsonb->'field')` serves them (measured at
 * 100k documents: `findOne({_id})` 33 ms -> 0.9 ms). FerretDB passes the field name as a parameter of a
 * prepared statement, so PostgreSQL can match it to the index only in a custom plan: the database gets
 * `plan_cache_mode = force_custom_plan`. The indexes are built without GIN's pending list
 * (`fastupdate = off`): with it, new rows wait in an unsorted list that every lookup reads in full until
 * a vacuum merges it, and after 100k new reservations a lookup took 14.6 ms instead of well under one
 * (`pg_stat_statements`, bench scenario 5b); an insert costs a few microseconds more.
 *
 * Nothing here is needed on real MongoDB, where the service's own `createIndexes` does the same job.
 *
 * @module
 */

/** The collections and the fields each is looked up by with equality, e.g. `{ stock_moves: ["opKey"] }`. */
export type EqualityLookups = Readonly<Record<string, readonly string[]>>;

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Prepares the PostgreSQL database of a FerretDB before FerretDB starts: custom plans, the table of
 * wanted lookups, and an event trigger that gives every table FerretDB creates later a GIN index per
 * wanted field of its collection (FerretDB names a collection's table `<collection>_<hash>`).
 * Idempotent. Needs a superuser (event triggers).
 *
 * @example
 * ```ts ignore
 * await prepareFerretDbBackend("postgres://postgres@127.0.0.1:5432/ferretdb");
 * ```
 */
export async function prepareFerretDbBackend(postgresUrl: string): Promise<void> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  try {
    const [{ db } = { db: "" }] = await sql<{ db: string }[]>`SELECT current_database() AS db`;
    // Applies to connections opened from now on: run before FerretDB starts.
    await sql.unsafe(`ALTER DATABASE ${quoteIdentifier(db)} SET plan_cache_mode = force_custom_plan`);
    await sql.unsafe(`
      CREATE TABLE IF NOT EXISTS public.shop_ferretdb_lookups (
        collection text NOT NULL,
        field text NOT NULL,
        PRIMARY KEY (collection, field)
      )`);
    await sql.unsafe(`
      CREATE OR REPLACE FUNCTION public.shop_ferretdb_lookup_index(schema_name text, table_name text,
        field text) RETURNS void LANGUAGE plpgsql AS $fn$
      DECLARE
        index_name text := left(table_name || '_' || field, 55) || '_lookup';
      BEGIN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb->%L)) WITH (fastupdate = off)',
          index_name, schema_name, table_name, field);
        -- An index an earlier version made with GIN's pending list: every lookup read that whole list.
        IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = schema_name AND c.relname = index_name
              AND NOT coalesce(c.reloptions @> ARRAY['fastupdate=off'], false)) THEN
          EXECUTE format('ALTER INDEX %I.%I SET (fastupdate = off)', schema_name, index_name);
          PERFORM gin_clean_pending_list(format('%I.%I', schema_name, index_name)::regclass);
        END IF;
      END $fn$`);
    await sql.unsafe(`
      CREATE OR REPLACE FUNCTION public.shop_ferretdb_new_table() RETURNS event_trigger
      LANGUAGE plpgsql AS $fn$
      DECLARE
        created record;
        wanted record;
        table_name text;
      BEGIN
        FOR created IN SELECT * FROM pg_event_trigger_ddl_commands()
            WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
          SELECT relname INTO table_name FROM pg_class WHERE oid = created.objid;
          FOR wanted IN SELECT field FROM public.shop_ferretdb_lookups
              WHERE collection = regexp_replace(table_name, '_[0-9a-f]{8}$', '') LOOP
            PERFORM public.shop_ferretdb_lookup_index(created.schema_name, table_name, wanted.field);
          END LOOP;
        END LOOP;
      END $fn$`);
    const [trigger] = await sql`SELECT 1 FROM pg_event_trigger WHERE evtname = 'shop_ferretdb_new_table'`;
    if (!trigger) {
      await sql.unsafe(`
        CREATE EVENT TRIGGER shop_ferretdb_new_table ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
        EXECUTE FUNCTION public.shop_ferretdb_new_table()`);
    }
  } finally {
    await sql.end();
  }
}

/**
 * Makes the equality lookups of `lookups` index-served in the PostgreSQL database of a FerretDB: for
 * the tables that exist now (found in each FerretDB database's `_ferretdb_database_metadata`) and, by
 * the trigger of {@linkcode prepareFerretDbBackend}, for the tables FerretDB creates later. Idempotent.
 * A new index is used at once by FerretDB's connections (custom plans).
 *
 * @example
 * ```ts ignore
 * await ensureFerretDbLookupIndexes(ferretPostgresUrl, { stock_moves: ["_id", "opKey"] });
 * ```
 */
export async function ensureFerretDbLookupIndexes(
  postgresUrl: string,
  lookups: EqualityLookups,
): Promise<number> {
  await prepareFerretDbBackend(postgresUrl);
  const { default: postgres } = await import("postgres");
  const sql = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  let ensured = 0;
  try {
    for (const [collection, fields] of Object.entries(lookups)) {
      for (const field of fields) {
        await sql`INSERT INTO public.shop_ferretdb_lookups (collection, field) VALUES (${collection}, ${field})
          ON CONFLICT DO NOTHING`;
      }
    }
    const schemas = await sql<{ schema: string }[]>`
      SELECT table_schema AS schema FROM information_schema.tables
      WHERE table_name = '_ferretdb_database_metadata'`;
    for (const { schema } of schemas) {
      const tables = await sql.unsafe<{ collection: string; table: string }[]>(
        `SELECT _jsonb->>'_id' AS collection, _jsonb->>'table' AS table
         FROM ${quoteIdentifier(schema)}._ferretdb_database_metadata`,
      );
      for (const { collection, table } of tables) {
        for (const field of lookups[collection] ?? []) {
          await sql`SELECT public.shop_ferretdb_lookup_index(${schema}, ${table}, ${field})`;
          ensured++;
        }
      }
    }
  } finally {
    await sql.end();
  }
  return ensured;
}

/**
 * The PostgreSQL databases on a server that FerretDBs of this project store their data in (named
 * `ferretdb` in `deno task dev`, `ferretdb_<random>` in test runs), as URLs.
 *
 * @example
 * ```ts ignore
 * for (const url of await ferretDbBackends(postgresServerUrl)) await ensureFerretDbLookupIndexes(url, {});
 * ```
 */
export async function ferretDbBackends(postgresServerUrl: string): Promise<string[]> {
  const { default: postgres } = await import("postgres");
  const { withDatabase } = await import("./servers.ts");
  const sql = postgres(postgresServerUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ datname: string }[]>`
      SELECT datname FROM pg_database WHERE datname = 'ferretdb' OR datname LIKE 'ferretdb\_%'`;
    return rows.map((row) => withDatabase(postgresServerUrl, row.datname));
  } finally {
    await sql.end();
  }
}
