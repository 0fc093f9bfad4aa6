import {
  type Collection,
  type CreateIndexesOptions,
  type Db,
  type Document,
  type IndexSpecification,
  MongoServerError,
  type OptionalUnlessRequiredId,
} from "mongodb";
import { skuTaken } from "../domain/errors.ts";
import type {
  CatalogChange,
  CreateOutcome,
  ProductStore,
  ReservationDecision,
  ReservationRecord,
  StockLevel,
  StockMove,
} from "../domain/ports.ts";
import type { CatalogFields, Money, Product, ProductImage } from "../domain/product.ts";
import type { ReservationStatus, ReservedLine } from "../domain/reservation.ts";

/** A catalog entry. Its stock lives in the stock log; `initialStock` is the stock before any move. */
interface ProductDoc {
  _id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  price: Money;
  initialStock: number;
  /** Absent in documents written before products had pictures. */
  images?: ProductImage[];
  createTime: Date;
  updateTime: Date;
}

/** A change of the catalog: `_id` is its number; `block` groups 64 numbers for reading them at once. */
interface ChangeDoc {
  _id: number;
  block: number;
  productId: string;
  product: ProductDoc | null;
  time: Date;
}

const changeBlock = 64;

/** A stock move: `_id` is `<productId>:<seq>`, and `opKey` has a unique index. */
interface MoveDoc extends StockMove {
  _id: string;
}

/** The stock level readers see, `_id` the product id. */
interface LevelDoc extends StockLevel {
  _id: string;
}

/** A reservation's record; `open` (pending or reserved, by the hint) is what the sweeper looks up. */
interface ReservationDoc {
  _id: string;
  lines: ReservedLine[];
  status: ReservationStatus;
  statusSeq: number;
  open: boolean;
  expireTime: Date;
  createTime: Date;
  updateTime: Date;
}

/** A decision: `_id` is `<orderId>:<seq>`. */
interface DecisionDoc extends ReservationDecision {
  _id: string;
}

/**
 * A unique index refused a write. MongoDB says so with code 11000; FerretDB 1.24 does for inserts, but
 * reports a unique violation in an update as a generic error carrying PostgreSQL's message.
 */
function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError &&
    (error.code === 11000 || /duplicate key value violates unique constraint/.test(error.message));
}

/** MongoDB's codes for "an index of this name exists with other options" and "...with other keys". */
const INDEX_CONFLICT_CODES: ReadonlySet<unknown> = new Set([85, 86]);

/**
 * Creates the named index, replacing an index of the same name that an older version defined otherwise:
 * without this, a service upgraded over old data fails at start ("An existing index has the same name").
 */
async function ensureIndex<T extends Document>(
  collection: Collection<T>,
  keys: IndexSpecification,
  options: CreateIndexesOptions & { name: string },
): Promise<void> {
  try {
    await collection.createIndex(keys, options);
  } catch (error) {
    if (!(error instanceof MongoServerError && INDEX_CONFLICT_CODES.has(error.code))) throw error;
    await collection.dropIndex(options.name);
    await collection.createIndex(keys, options);
  }
}

/**
 * Every value that goes into a query as a value goes through here: a string field must never reach the
 * driver as an object (`{"$ne": null}`), whatever a caller's types claim.
 */
function str(value: string): string {
  if (typeof value !== "string") throw new TypeError("expected a string query value");
  return value;
}

/**
 * Every field the store looks documents up by with equality, by collection: what MongoDB serves from
 * the indexes {@linkcode MongoProductStore.ensureIndexes} creates (and `_id`), and what a local FerretDB
 * needs GIN indexes for (FerretDB issue #4646; `ensureFerretDbLookupIndexes` in the test harness, which
 * `deno task dev`, the e2e stack and the bench give this list).
 *
 * @example
 * ```ts
 * productEqualityLookups.stock_moves; // ["_id", "opKey"]
 * ```
 */
export const productEqualityLookups: Readonly<Record<string, readonly string[]>> = {
  products: ["_id"],
  stock_moves: ["_id", "opKey"],
  stock_levels: ["_id"],
  catalog_changes: ["_id", "block"],
  catalog_head: ["_id"],
  reservations: ["_id", "open"],
  reservation_decisions: ["_id", "orderId", "done"],
};

/**
 * The product store on the MongoDB wire protocol (MongoDB, or FerretDB 1.24 locally), using only what
 * both provide: single-document inserts and unique indexes are the only arbiters of concurrent writers
 * (FerretDB applies updates by read-modify-write without a transaction, so no compare-and-set update is
 * trusted). Each product's stock is a log of moves with unique `(productId, seq)`; each reservation's
 * state is a log of decisions with unique `(orderId, seq)`. See the service README for why this is
 * correct with any number of instances, and what happens when one dies half-way.
 *
 * @example
 * ```ts
 * import { MongoClient } from "mongodb";
 * const client = new MongoClient("mongodb://127.0.0.1:27017");
 * const store = new MongoProductStore(client.db("shop_product"));
 * await store.ensureIndexes();
 * ```
 */
export class MongoProductStore implements ProductStore {
  #products: Collection<ProductDoc>;
  #moves: Collection<MoveDoc>;
  #levels: Collection<LevelDoc>;
  #reservations: Collection<ReservationDoc>;
  #decisions: Collection<DecisionDoc>;
  #changes: Collection<ChangeDoc>;
  #catalogHead: Collection<{ _id: string; seq: number }>;

  /** Uses a database of a client the caller owns (and closes). */
  constructor(db: Db) {
    // int64 values come back as bigint: prices are bigint minor units end to end.
    const bson = { useBigInt64: true };
    this.#products = db.collection<ProductDoc>("products", bson);
    this.#moves = db.collection<MoveDoc>("stock_moves", bson);
    this.#levels = db.collection<LevelDoc>("stock_levels", bson);
    this.#reservations = db.collection<ReservationDoc>("reservations", bson);
    this.#decisions = db.collection<DecisionDoc>("reservation_decisions", bson);
    this.#changes = db.collection<ChangeDoc>("catalog_changes", bson);
    this.#catalogHead = db.collection<{ _id: string; seq: number }>("catalog_head", bson);
  }

  /**
   * Creates the indexes (idempotent; every instance runs it at start). An index whose definition changed
   * since an older version created it (same name, other keys or options) is dropped and built again.
   */
  async ensureIndexes(): Promise<void> {
    await ensureIndex(this.#products, { sku: 1 }, { unique: true, name: "sku_unique" });
    await ensureIndex(this.#products, { createTime: 1, _id: 1 }, { name: "catalog_order" });
    await ensureIndex(this.#products, { category: 1, createTime: 1, _id: 1 }, { name: "category_order" });
    await ensureIndex(this.#products, { "price.amountMinor": 1 }, { name: "price" });
    // Every stock and reservation lookup is by equality on `_id` or on one of these (the service README
    // lists the query each serves).
    await ensureIndex(this.#moves, { opKey: 1 }, { unique: true, name: "op_unique" });
    await ensureIndex(this.#reservations, { open: 1 }, { name: "open" });
    await ensureIndex(this.#decisions, { orderId: 1 }, { name: "decisions_of_order" });
    await ensureIndex(this.#decisions, { done: 1 }, { name: "unfinished" });
    await ensureIndex(this.#changes, { block: 1 }, { name: "change_block" });
  }

  // ---- catalog -------------------------------------------------------------------------------------

  async createProduct(product: Product): Promise<CreateOutcome> {
    const doc = productDocOf(product);
    try {
      await this.#products.insertOne(doc);
      return { created: true, product: { ...product } };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const existing = await this.findProduct(product.id);
      if (existing) return { created: false, product: existing };
      throw skuTaken(product.sku);
    }
  }

  async findProduct(id: string): Promise<Product | undefined> {
    const [doc, level] = await Promise.all([
      this.#products.findOne({ _id: str(id) }),
      this.#levels.findOne({ _id: str(id) }),
    ]);
    return doc ? toProduct(doc, level) : undefined;
  }

  async findProducts(ids: readonly string[]): Promise<Product[]> {
    // One equality lookup per id, in parallel, rather than `_id: {$in}`: FerretDB 1.24 answers `$in` by
    // reading the whole collection (bench: ~2.5 s at 20k documents), equality through the index. An
    // order names at most 50 products, usually one to three.
    const wanted = [...new Set(ids.map(str))];
    const [docs, levels] = await Promise.all([
      Promise.all(wanted.map((id) => this.#products.findOne({ _id: id }))),
      Promise.all(wanted.map((id) => this.#levels.findOne({ _id: id }))),
    ]);
    return this.#withLevels(docs.filter((doc) => doc !== null), levels.filter((level) => level !== null));
  }

  async allProducts(): Promise<Product[]> {
    const [docs, levels] = await Promise.all([
      this.#products.find({}).toArray(),
      this.#levels.find({}).toArray(),
    ]);
    return this.#withLevels(docs, levels);
  }

  async updateProduct(id: string, fields: Partial<CatalogFields>, now: Date): Promise<Product | undefined> {
    const set: Partial<ProductDoc> = { updateTime: now };
    if (fields.sku !== undefined) set.sku = str(fields.sku);
    if (fields.name !== undefined) set.name = str(fields.name);
    if (fields.description !== undefined) set.description = str(fields.description);
    if (fields.category !== undefined) set.category = str(fields.category);
    if (fields.price !== undefined) {
      set.price = {
        currencyCode: str(fields.price.currencyCode),
        amountMinor: BigInt(fields.price.amountMinor),
      };
    }
    if (fields.images !== undefined) set.images = imagesOf(fields.images);
    try {
      const result = await this.#products.updateOne({ _id: str(id) }, { $set: set });
      if (result.matchedCount === 0) return undefined;
    } catch (error) {
      if (isDuplicateKey(error) && fields.sku !== undefined) throw skuTaken(fields.sku);
      throw error;
    }
    return await this.findProduct(id);
  }

  async deleteProduct(id: string): Promise<boolean> {
    const result = await this.#products.deleteOne({ _id: str(id) });
    // The stock log stays as history; a release of an old reservation may still append to it, harmlessly.
    await this.#levels.deleteOne({ _id: str(id) });
    return result.deletedCount > 0;
  }

  // ---- stock logs -----------------------------------------------------------------------------------

  async insertMove(move: StockMove): Promise<boolean> {
    return await this.#insertOnce(this.#moves, { _id: `${str(move.productId)}:${move.seq}`, ...move });
  }

  async findMove(productId: string, seq: number): Promise<StockMove | undefined> {
    return moveOf(await this.#moves.findOne({ _id: `${str(productId)}:${seq}` }));
  }

  async findMoveByOp(opKey: string): Promise<StockMove | undefined> {
    return moveOf(await this.#moves.findOne({ opKey: str(opKey) }));
  }

  async stockLevel(productId: string): Promise<StockLevel | undefined> {
    // The product is read only for a level not written yet (a product never moved): the level job reads
    // the levels of moved products every few hundred ms, and the second read would double its cost.
    const level = await this.#levels.findOne({ _id: str(productId) });
    if (level) return { seq: level.seq, stock: level.stock };
    const product = await this.#products.findOne({ _id: str(productId) }, {
      projection: { initialStock: 1 },
    });
    return product ? { seq: 0, stock: product.initialStock } : undefined;
  }

  async saveStockLevel(productId: string, level: StockLevel): Promise<void> {
    try {
      await this.#levels.updateOne(
        { _id: str(productId) },
        { $set: { seq: level.seq, stock: level.stock } },
        { upsert: true },
      );
    } catch (error) {
      // Two first upserts raced: the other one wrote a level; the domain repairs a stale one.
      if (!isDuplicateKey(error)) throw error;
    }
  }

  async stockLevels(productIds: readonly string[]): Promise<Map<string, StockLevel>> {
    // One equality lookup each, side by side (FerretDB reads the whole collection for `$in`).
    const found = await Promise.all(productIds.map((id) => this.#levels.findOne({ _id: str(id) })));
    return new Map(
      found.flatMap((level) => level ? [[level._id, { seq: level.seq, stock: level.stock }]] : []),
    );
  }

  // ---- the catalog's change log ------------------------------------------------------------------------

  async insertCatalogChange(change: CatalogChange): Promise<boolean> {
    return await this.#insertOnce(this.#changes, {
      _id: change.seq,
      block: Math.floor(change.seq / changeBlock),
      productId: change.productId,
      product: change.product ? productDocOf(change.product) : null,
      time: change.time,
    });
  }

  async catalogChange(seq: number): Promise<CatalogChange | undefined> {
    const doc = await this.#changes.findOne({ _id: seq });
    return doc ? changeOf(doc) : undefined;
  }

  async catalogChangesFrom(seq: number): Promise<CatalogChange[]> {
    // A block of numbers by equality (FerretDB cannot push a range down), then ordered here.
    const docs = await this.#changes.find({ block: Math.floor(seq / changeBlock) }).toArray();
    const changes = docs.filter((doc) => doc._id >= seq).sort((a, b) => a._id - b._id).map(changeOf);
    const consecutive: CatalogChange[] = [];
    for (const change of changes) {
      if (change.seq !== seq + consecutive.length) break;
      consecutive.push(change);
    }
    return consecutive;
  }

  async catalogHead(): Promise<number> {
    return (await this.#catalogHead.findOne({ _id: "head" }))?.seq ?? 0;
  }

  async saveCatalogHead(seq: number): Promise<void> {
    try {
      await this.#catalogHead.updateOne({ _id: "head", seq: { $lt: seq } }, { $set: { seq } }, {
        upsert: true,
      });
    } catch (error) {
      // The hint is ahead already (the upsert met the existing document), or two first upserts raced.
      if (!isDuplicateKey(error)) throw error;
    }
  }

  // ---- reservations --------------------------------------------------------------------------------

  async insertReservation(record: ReservationRecord): Promise<boolean> {
    return await this.#insertOnce(this.#reservations, {
      _id: str(record.orderId),
      lines: record.lines.map((line) => ({ ...line, unitPrice: { ...line.unitPrice } })),
      status: record.status,
      statusSeq: record.statusSeq,
      open: isOpen(record.status),
      expireTime: record.expireTime,
      createTime: record.createTime,
      updateTime: record.updateTime,
    });
  }

  async findReservation(orderId: string): Promise<ReservationRecord | undefined> {
    const doc = await this.#reservations.findOne({ _id: str(orderId) });
    return doc ? recordOf(doc) : undefined;
  }

  async saveReservationStatus(
    orderId: string,
    status: ReservationStatus,
    seq: number,
    time: Date,
  ): Promise<void> {
    await this.#reservations.updateOne(
      { _id: str(orderId), statusSeq: { $lt: seq } },
      { $set: { status, statusSeq: seq, open: isOpen(status), updateTime: time } },
    );
  }

  async openReservations(limit: number): Promise<ReservationRecord[]> {
    return (await this.#reservations.find({ open: true }).limit(limit).toArray()).map(recordOf);
  }

  async insertDecision(decision: ReservationDecision): Promise<boolean> {
    return await this.#insertOnce(this.#decisions, {
      _id: `${str(decision.orderId)}:${decision.seq}`,
      ...decision,
      shortProductIds: [...decision.shortProductIds],
    });
  }

  async latestDecision(orderId: string): Promise<ReservationDecision | undefined> {
    // A handful per order; picked here rather than sorted, which FerretDB would do after reading them all.
    const all = await this.#decisions.find({ orderId: str(orderId) }).toArray();
    const top = all.reduce<DecisionDoc | undefined>(
      (best, d) => (!best || d.seq > best.seq ? d : best),
      undefined,
    );
    return top ? decisionOf(top) : undefined;
  }

  async markDecisionDone(orderId: string, seq: number): Promise<void> {
    await this.#decisions.updateOne({ _id: `${str(orderId)}:${seq}` }, { $set: { done: true } });
  }

  async unfinishedDecisions(limit: number): Promise<ReservationDecision[]> {
    return (await this.#decisions.find({ done: false }).limit(limit).toArray()).map(decisionOf);
  }

  /** Inserts a document unless its `_id` (or another unique key) is taken; says whether it did. */
  async #insertOnce<T extends { _id: string | number }>(collection: Collection<T>, doc: T): Promise<boolean> {
    try {
      await collection.insertOne(doc as OptionalUnlessRequiredId<T>);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  #withLevels(docs: ProductDoc[], levels: LevelDoc[]): Product[] {
    const byId = new Map(levels.map((level) => [level._id, level]));
    return docs.map((doc) => toProduct(doc, byId.get(doc._id) ?? null));
  }
}

function toProduct(doc: ProductDoc, level: LevelDoc | null): Product {
  return {
    id: doc._id,
    sku: doc.sku,
    name: doc.name,
    description: doc.description,
    category: doc.category,
    price: { currencyCode: doc.price.currencyCode, amountMinor: BigInt(doc.price.amountMinor) },
    stock: level?.stock ?? doc.initialStock,
    images: (doc.images ?? []).map((image) => ({ uri: image.uri, altText: image.altText })),
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}

function productDocOf(product: Product): ProductDoc {
  return {
    _id: str(product.id),
    sku: product.sku,
    name: product.name,
    description: product.description,
    category: product.category,
    price: { currencyCode: product.price.currencyCode, amountMinor: product.price.amountMinor },
    initialStock: product.stock,
    images: imagesOf(product.images),
    createTime: product.createTime,
    updateTime: product.updateTime,
  };
}

/** Pictures as stored: exactly the two strings of each, nothing a caller's object may carry besides. */
function imagesOf(images: readonly ProductImage[]): ProductImage[] {
  return images.map((image) => ({ uri: str(image.uri), altText: str(image.altText) }));
}

function changeOf(doc: ChangeDoc): CatalogChange {
  return {
    seq: doc._id,
    productId: doc.productId,
    product: doc.product ? toProduct(doc.product, null) : undefined,
    time: doc.time,
  };
}

function isOpen(status: ReservationStatus): boolean {
  return status === "pending" || status === "reserved";
}

function moveOf(doc: MoveDoc | null): StockMove | undefined {
  if (!doc) return undefined;
  const move: StockMove = {
    productId: doc.productId,
    seq: doc.seq,
    stock: doc.stock,
    delta: doc.delta,
    kind: doc.kind,
    opKey: doc.opKey,
    time: doc.time,
  };
  if (doc.orderId !== undefined) move.orderId = doc.orderId;
  return move;
}

function recordOf(doc: ReservationDoc): ReservationRecord {
  return {
    orderId: doc._id,
    lines: doc.lines.map((line) => ({
      productId: line.productId,
      name: line.name,
      unitPrice: {
        currencyCode: line.unitPrice.currencyCode,
        amountMinor: BigInt(line.unitPrice.amountMinor),
      },
      quantity: line.quantity,
    })),
    status: doc.status,
    statusSeq: doc.statusSeq,
    expireTime: doc.expireTime,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
  };
}

function decisionOf(doc: DecisionDoc): ReservationDecision {
  return {
    orderId: doc.orderId,
    seq: doc.seq,
    status: doc.status,
    shortProductIds: [...doc.shortProductIds],
    time: doc.time,
    done: doc.done,
  };
}
