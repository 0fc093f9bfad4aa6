import { context, type Span, SpanKind } from "@opentelemetry/api";
import type { MongoClient } from "mongodb";
import { insideTracedCall, recordError, shopTracer } from "./tracing.ts";

/** Driver housekeeping that no handler asked for: not worth a span. */
const housekeeping = new Set([
  "hello",
  "ismaster",
  "isMaster",
  "ping",
  "saslStart",
  "saslContinue",
  "endSessions",
  "killCursors",
  "buildInfo",
]);

/**
 * A client span per MongoDB command, from the driver's command monitoring (the client must be created
 * with `monitorCommands: true`): named `find products`, with `db.system` (`mongodb`),
 * `db.operation.name`, `db.collection.name` and `db.namespace`, never the command's values; a failed
 * command records its error. Each span is a child of the span active when the command was sent; a
 * command sent outside a traced call gets none.
 *
 * @example
 * ```ts ignore
 * import { MongoClient } from "mongodb";
 * const client = new MongoClient("mongodb://127.0.0.1:27017", { monitorCommands: true });
 * traceMongoCommands(client);
 * ```
 */
export function traceMongoCommands(client: MongoClient): void {
  const open = new Map<number, Span>();
  client.on("commandStarted", (event) => {
    if (housekeeping.has(event.commandName) || !insideTracedCall()) return;
    const target = (event.command as Record<string, unknown>)[event.commandName];
    const collection = typeof target === "string" ? target : undefined;
    const span = shopTracer().startSpan(
      collection === undefined ? event.commandName : `${event.commandName} ${collection}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "db.system": "mongodb",
          "db.operation.name": event.commandName,
          "db.namespace": event.databaseName,
          ...(collection === undefined ? {} : { "db.collection.name": collection }),
        },
      },
      context.active(),
    );
    open.set(event.requestId, span);
  });
  client.on("commandSucceeded", (event) => {
    open.get(event.requestId)?.end();
    open.delete(event.requestId);
  });
  client.on("commandFailed", (event) => {
    const span = open.get(event.requestId);
    if (span === undefined) return;
    recordError(span, event.failure);
    span.end();
    open.delete(event.requestId);
  });
}
