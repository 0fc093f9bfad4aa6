import { context, type Span, SpanKind } from "@opentelemetry/api";
import type { Sql } from "postgres";
import { insideTracedCall, recordError, shopTracer } from "./tracing.ts";

/** What a span says of one SQL statement: never its values. */
export interface StatementSummary {
  /** `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `BEGIN`, `WITH`... */
  readonly operation: string;
  /** The table, when the statement names one simply (`INSERT INTO orders`, `... FROM products`). */
  readonly collection: string | undefined;
}

const tableAfter: Record<string, RegExp> = {
  INSERT: /^\s*insert\s+into\s+([a-z_][\w.]*)/i,
  UPDATE: /^\s*update\s+(?:only\s+)?([a-z_][\w.]*)/i,
  DELETE: /^\s*delete\s+from\s+(?:only\s+)?([a-z_][\w.]*)/i,
  SELECT: /\bfrom\s+([a-z_][\w.]*)/i,
};

/**
 * The operation and table of a statement's text (a tagged template's literal parts only, so no value
 * can be in it).
 *
 * @example
 * ```ts
 * describeStatement("insert into orders (id, status) values (?, ?)"); // { operation: "INSERT", collection: "orders" }
 * ```
 */
export function describeStatement(text: string): StatementSummary {
  const operation = /^[\s(]*([a-z]+)/i.exec(text)?.[1]?.toUpperCase() ?? "SQL";
  const collection = tableAfter[operation]?.exec(text)?.[1];
  return { operation, collection };
}

/** The parts of a postgres.js 3.4 query (`src/query.js`) this module reads. */
interface PostgresQuery extends Promise<unknown> {
  /** True for a tagged template (`strings` is its literal parts), false for `sql.unsafe(text)`. */
  tagged: boolean;
  strings: readonly string[] | string;
  /** Set once the query was handed to a connection. */
  executed: boolean;
  handle(): Promise<void>;
}

const installed = Symbol.for("shop.tracing.postgres-statements");

/**
 * A client span per SQL statement a postgres.js pool runs inside a traced call: named `INSERT orders`,
 * with `db.system` (`postgresql`), `db.operation.name` and `db.collection.name` (when simple to read),
 * never the values, from the moment the statement is handed to the pool until its result or error.
 * A statement run outside any span (migrations, a loop's housekeeping) gets none.
 *
 * postgres.js has no hook that sees a statement's end (its `debug` option fires before it is sent), so
 * this wraps `handle()` of its query class, the one method every way of running a query goes through
 * (`await`, `.execute()`, `.forEach()`, transactions' `begin` and `commit`): once per process.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * tracePostgresStatements(postgres("postgres://127.0.0.1:5432/orders"));
 * ```
 */
export function tracePostgresStatements(sql: Sql): void {
  // A query that is never awaited never runs: this one only reaches the class.
  const prototype = Object.getPrototypeOf(sql``) as PostgresQuery & { [installed]?: true };
  if (prototype[installed] || typeof prototype.handle !== "function") return;
  const handle = prototype.handle;
  prototype.handle = function (this: PostgresQuery) {
    if (!this.executed) spanStatement(this);
    return handle.call(this);
  };
  prototype[installed] = true;
}

function spanStatement(query: PostgresQuery): void {
  if (!insideTracedCall()) return;
  const text = typeof query.strings === "string" ? query.strings : query.strings.join("?");
  const { operation, collection } = describeStatement(text);
  const span: Span = shopTracer().startSpan(
    collection === undefined ? operation : `${operation} ${collection}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system": "postgresql",
        "db.operation.name": operation,
        ...(collection === undefined ? {} : { "db.collection.name": collection }),
      },
    },
    context.active(),
  );
  // The built-in `then` subscribes without running the query again (the class's own `then` runs it).
  Promise.prototype.then.call(query, () => span.end(), (error: unknown) => {
    recordError(span, error);
    span.end();
  });
}
