/**
 * The catalog use cases: create, read, list, change and delete products. Plain logic over the store.
 *
 * @module
 */
import { type FieldProblem, invalidArgument, notFound } from "@shop/platform/errors";
import { derivedId } from "./ids.ts";
import type { CreateOutcome, ProductCursor, ProductFilter, ProductPage, ProductStore } from "./ports.ts";
import type { CatalogView } from "./catalog_view.ts";
import type { StockLog } from "./stock_log.ts";
import {
  catalogFieldProblems,
  type CatalogFields,
  checkStock,
  normalizeCatalogFields,
  type Product,
  updatablePaths,
} from "./product.ts";

/** A product as an admin describes it. */
export type ProductInput = CatalogFields & { stock: number };

/** The list filters as a request states them (0 means "no bound" for the prices). */
export interface ListQuery {
  category: string;
  minPriceMinor: bigint;
  maxPriceMinor: bigint;
  /** Free text: its words must all appear in the name or description. */
  query: string;
}

/** The most words of a text query used; more make a slow query, not a better one. */
export const maxQueryWords = 8;

/** What {@linkcode Catalog} is built from. */
export interface CatalogDeps {
  store: ProductStore;
  /** The stock rules, over the same store (one per process, shared with the inventory). */
  stock: StockLog;
  /** The catalog as this instance holds it, over the same store (one per process). */
  view: CatalogView;
  now?: () => Date;
  newId?: () => string;
}

/**
 * The catalog use cases.
 *
 * @example
 * ```ts
 * import { CatalogView } from "./catalog_view.ts";
 * import { StockLog } from "./stock_log.ts";
 * declare const store: ProductStore;
 * const catalog = new Catalog({ store, stock: new StockLog(store), view: new CatalogView(store) });
 * const product = await catalog.get("0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60");
 * ```
 */
export class Catalog {
  #store: ProductStore;
  #stock: StockLog;
  #view: CatalogView;
  #now: () => Date;
  #newId: () => string;

  /** Creates the use cases over a store. */
  constructor(deps: CatalogDeps) {
    this.#store = deps.store;
    this.#stock = deps.stock;
    this.#view = deps.view;
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
  }

  /**
   * Creates a product. With a `requestId`, the id is derived from the admin and the request id, so a
   * retry (even a concurrent one) finds the product the first call created instead of making another.
   */
  async create(actorId: string, input: ProductInput, requestId = ""): Promise<Product> {
    const fields = normalizeCatalogFields(input);
    const problems = catalogFieldProblems(
      fields,
      ["sku", "name", "description", "category", "price", "images"],
      "product.",
    );
    if (problems.length > 0) throw invalidArgument(problems);
    checkStock("product.stock", input.stock);
    const id = requestId ? await derivedId(`create:${actorId}:${requestId}`) : this.#newId();
    const now = this.#now();
    const outcome = await this.add({ ...fields, id, stock: input.stock, createTime: now, updateTime: now });
    return outcome.product;
  }

  /**
   * Stores a product exactly as given (its id and times too) unless its id exists, and makes it visible
   * to every instance; for the dev seed and for {@linkcode create}.
   */
  async add(product: Product): Promise<CreateOutcome> {
    const outcome = await this.#store.createProduct(product);
    // A retry of a create whose first call died before recording it records it now.
    if (outcome.created || !this.#view.has(product.id)) {
      await this.#view.record(outcome.product.id, outcome.product, product.updateTime);
    }
    return outcome;
  }

  /** One product, or NOT_FOUND. */
  async get(id: string): Promise<Product> {
    const product = await this.#view.get(id);
    if (!product) throw notFound("product", id);
    return product;
  }

  /** Products in catalog order (oldest first), filtered and paged by keyset. */
  async list(query: ListQuery, pageSize: number, after: ProductCursor | undefined): Promise<ProductPage> {
    return await this.#view.list(filterOf(query), pageSize, after);
  }

  /** Changes the fields named in `paths` (proto names); `stock` sets the units available now. */
  async update(id: string, paths: readonly string[], values: ProductInput): Promise<Product> {
    const problems: FieldProblem[] = [];
    if (paths.length === 0) {
      problems.push({ field: "update_mask", description: "name at least one field to change" });
    }
    const unknown = paths.filter((path) => !(updatablePaths as readonly string[]).includes(path));
    if (unknown.length > 0) {
      problems.push({
        field: "update_mask",
        description: `${unknown.join(", ")} cannot be changed; allowed: ${updatablePaths.join(", ")}`,
      });
    }
    if (problems.length > 0) throw invalidArgument(problems);
    const fields = normalizeCatalogFields(values);
    const fieldProblems = catalogFieldProblems(fields, paths, "product.");
    if (fieldProblems.length > 0) throw invalidArgument(fieldProblems);
    if (paths.includes("stock")) checkStock("product.stock", values.stock);

    const changes: Partial<CatalogFields> = {};
    if (paths.includes("sku")) changes.sku = fields.sku;
    if (paths.includes("name")) changes.name = fields.name;
    if (paths.includes("description")) changes.description = fields.description;
    if (paths.includes("category")) changes.category = fields.category;
    if (paths.includes("price")) changes.price = fields.price;
    if (paths.includes("images")) changes.images = fields.images;
    const now = this.#now();
    let product = await this.#store.findProduct(id);
    if (!product) throw notFound("product", id);
    if (Object.keys(changes).length > 0) product = await this.#store.updateProduct(id, changes, now);
    if (product && paths.includes("stock")) {
      await this.#stock.set(id, values.stock, now);
      product = await this.#store.updateProduct(id, {}, now);
    }
    if (!product) throw notFound("product", id);
    await this.#view.record(id, product, now);
    return product;
  }

  /** Deletes a product; NOT_FOUND when there is none. */
  async delete(id: string): Promise<void> {
    if (!await this.#store.deleteProduct(id)) throw notFound("product", id);
    await this.#view.record(id, undefined, this.#now());
  }
}

/** The store filter of a request's filters, after checking they make sense together. */
function filterOf(query: ListQuery): ProductFilter {
  if (query.minPriceMinor < 0n) {
    throw invalidArgument([{ field: "min_price_minor", description: "must not be negative" }]);
  }
  if (query.maxPriceMinor < 0n) {
    throw invalidArgument([{ field: "max_price_minor", description: "must not be negative" }]);
  }
  if (query.maxPriceMinor > 0n && query.maxPriceMinor < query.minPriceMinor) {
    throw invalidArgument([{ field: "max_price_minor", description: "must not be below min_price_minor" }]);
  }
  const words = query.query.trim().split(/\s+/).filter((word) => word !== "");
  if (words.length > maxQueryWords) {
    throw invalidArgument([{ field: "query", description: `use at most ${maxQueryWords} words` }]);
  }
  const filter: ProductFilter = {};
  if (query.category) filter.category = query.category;
  if (query.minPriceMinor > 0n) filter.minPriceMinor = query.minPriceMinor;
  if (query.maxPriceMinor > 0n) filter.maxPriceMinor = query.maxPriceMinor;
  if (words.length > 0) filter.words = words;
  return filter;
}
