// deno-lint-ignore-file no-console -- a script: what it prints is its interface
/**
 * Counts the database round trips of each product use case on FerretDB: every command the driver sends
 * (`total`), and how many of them had to wait for an earlier one (`sequential`: a command that starts
 * while none is in flight opens a new wave; commands sent side by side share one). Prints the Markdown
 * table of the product README. Not a test: nothing is asserted.
 *
 * Run: `NO_COLOR=1 deno run -A services/product/testdata/round_trips.ts [catalogSize]`
 *
 * @module
 */
import { MongoClient } from "mongodb";
import {
  ensureFerretDbLookupIndexes,
  ferretDbBackends,
  mongoForTests,
  postgresForTests,
} from "@shop/platform/testing";
import { Catalog } from "../domain/catalog.ts";
import { CatalogView } from "../domain/catalog_view.ts";
import { Inventory } from "../domain/inventory.ts";
import { ReservationBook } from "../domain/reservation_book.ts";
import { StockLog } from "../domain/stock_log.ts";
import { MongoProductStore, productEqualityLookups } from "../store/mongo_product_store.ts";

const catalogSize = Number(Deno.args[0] ?? 50);
/** Past stock moves of other products to put in the store first (a shop with a history). */
const history = Number(Deno.args[1] ?? 0);
/** `--no-lookup-indexes`: leave FerretDB's tables without the GIN indexes (as before they existed). */
const lookupIndexes = !Deno.args.includes("--no-lookup-indexes");

await using db = await (await mongoForTests()).createDatabase({ label: "product_trips" });
const client = new MongoClient(db.url, { monitorCommands: true, maxPoolSize: 20 });
await client.connect();
let inFlight = 0;
let total = 0;
let waves = 0;
const commands: string[] = [];
client.on("commandStarted", (event) => {
  if (inFlight === 0) waves++;
  inFlight++;
  total++;
  commands.push(event.commandName);
});
const settled = () => inFlight = Math.max(0, inFlight - 1);
client.on("commandSucceeded", settled);
client.on("commandFailed", settled);

const store = new MongoProductStore(client.db(db.name));
await store.ensureIndexes();
if (lookupIndexes) {
  for (const backend of await ferretDbBackends((await postgresForTests()).url)) {
    await ensureFerretDbLookupIndexes(backend, productEqualityLookups);
  }
}
const stock = new StockLog(store);
const view = new CatalogView(store);
await view.load();
const catalog = new Catalog({ store, stock, view });
const book = new ReservationBook(store, stock);
const inventory = new Inventory({ store, book, view, reservationTtlMs: 60_000 });

const rows: string[] = [];
/** Waits for the writes a use case leaves running (stock levels, hints): they are part of its cost. */
async function settle(): Promise<void> {
  await Promise.all([stock.levelsWritten(ids), book.settled()]);
}

async function count(name: string, run: () => Promise<unknown>): Promise<void> {
  await settle();
  total = 0;
  waves = 0;
  commands.length = 0;
  await run().catch((error) => console.error(`${name}: ${error}`));
  await settle();
  const kinds = new Map<string, number>();
  for (const command of commands) kinds.set(command, (kinds.get(command) ?? 0) + 1);
  rows.push(
    `| ${name} | ${waves} | ${total} | ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")} |`,
  );
}

if (history > 0) {
  const moves = client.db(db.name).collection<{ _id: string }>("stock_moves");
  for (let from = 0; from < history; from += 1000) {
    const docs = [];
    for (let i = from; i < Math.min(history, from + 1000); i++) {
      const seq = Math.floor(i / 100) + 1;
      const productId = `history-${i % 100}`;
      const orderId = `history-order-${i}`;
      docs.push({
        _id: `${productId}:${seq}`,
        productId,
        seq,
        stock: 1_000_000 - seq,
        delta: -1,
        kind: "take",
        opKey: `${orderId}:${productId}:take`,
        orderId,
        time: new Date(),
        synced: true,
      });
    }
    await moves.insertMany(docs, { ordered: false });
  }
}

const ids: string[] = [];
for (let i = 0; i < catalogSize; i++) {
  const product = await catalog.create("admin", {
    sku: `TRIP-${i}`,
    name: `Round trip product ${i}`,
    description: "for counting",
    category: i % 2 ? "kitchen" : "books",
    price: { currencyCode: "USD", amountMinor: BigInt(1000 + i) },
    stock: 1000,
    images: [],
  });
  ids.push(product.id);
}
const [a = "", b = "", c = ""] = ids;
// A first move of each product, so that every later one is a product with a history.
for (const id of [a, b, c]) {
  const orderId = crypto.randomUUID();
  await inventory.reserve(orderId, [{ productId: id, quantity: 1 }]);
  await inventory.commit(orderId);
}

/** The list query with no filter. */
const unfiltered = { category: "", minPriceMinor: 0n, maxPriceMinor: 0n, query: "" };
await count("GetProduct", () => catalog.get(a));
await count(
  "ListProducts, first page of 20",
  () => catalog.list(unfiltered, 20, undefined),
);
await count(
  "ListProducts, category",
  () => catalog.list({ ...unfiltered, category: "books" }, 20, undefined),
);
// The same reads through a view that may answer from what it looked up less than `catalog.staleness`
// ago, after a first read of each (a bound of a minute here, so that the counted reads fall within it
// however slow the machine; the service's 500 ms gives the same counts to reads that close together).
const bounded = new Catalog({
  store,
  stock,
  view: new CatalogView(store, { stalenessMs: 60_000, knownLevel: (id) => stock.known(id) }),
});
await bounded.get(a);
await bounded.list(unfiltered, 20, undefined);
await count("GetProduct, within `catalog.staleness`", () => bounded.get(a));
await count("ListProducts, a page of 20, within it", () => bounded.list(unfiltered, 20, undefined));
await count("CreateProduct", () =>
  catalog.create("admin", {
    sku: "TRIP-NEW",
    name: "New",
    description: "",
    category: "books",
    price: { currencyCode: "USD", amountMinor: 1n },
    stock: 5,
    images: [],
  }));
await count("UpdateProduct (stock)", () =>
  catalog.update(c, ["stock"], {
    sku: "",
    name: "",
    description: "",
    category: "",
    price: { currencyCode: "USD", amountMinor: 1n },
    stock: 900,
    images: [],
  }));
const one = crypto.randomUUID();
await count("ReserveStock, 1 line", () => inventory.reserve(one, [{ productId: a, quantity: 1 }]));
await count("ReserveStock again (a retry)", () => inventory.reserve(one, [{ productId: a, quantity: 1 }]));
await count("CommitReservation", () => inventory.commit(one));
await count("ReleaseReservation (after commit)", () => inventory.release(one));
const three = crypto.randomUUID();
await count(
  "ReserveStock, 3 lines",
  () => inventory.reserve(three, [a, b, c].map((productId) => ({ productId, quantity: 1 }))),
);
await count("CommitReservation, 3 lines", () => inventory.commit(three));
const released = crypto.randomUUID();
await inventory.reserve(released, [{ productId: b, quantity: 1 }]);
await count("ReleaseReservation (reserved, 1 line)", () => inventory.release(released));
const short = crypto.randomUUID();
await count("ReserveStock, out of stock", () => inventory.reserve(short, [{ productId: a, quantity: 1000 }]));
await count("sweep, nothing due", () => inventory.sweep());

console.log(
  `Round trips per use case on FerretDB (catalog of ${catalogSize} products, ${history} past moves):\n`,
);
console.log("| use case | sequential | total | commands |");
console.log("| --- | --- | --- | --- |");
for (const row of rows) console.log(row);
await client.close();
