/**
 * The catalog as each instance holds it in memory, kept current from the catalog's change log: lists
 * and single products are answered from memory (so a page costs the same at any catalog size), with
 * the stock of what is shown read from the stock levels.
 *
 * @module
 */
import { FreshRead } from "./fresh_read.ts";
import type {
  CatalogChange,
  ProductCursor,
  ProductFilter,
  ProductPage,
  ProductStore,
  StockLevel,
} from "./ports.ts";
import type { Product } from "./product.ts";

/** Options of {@linkcode CatalogView}. */
export interface CatalogViewOptions {
  /** Told each time an append lost a race to another writer and is tried again. */
  onConflict?: () => void;
  /**
   * How old, in ms, what a read answers from may be: a change made through another instance is shown
   * by every read that begins this long after the change completed (0, the default: by every read that
   * begins after it, at the cost of a look-up per read). This instance's own changes, catalog and stock,
   * are shown at once either way.
   */
  stalenessMs?: number;
  /**
   * The stock level this instance itself last saw of a product (its own moves), never ahead of the
   * truth: a read shows it when it is newer than the level looked up.
   */
  knownLevel?: (productId: string) => StockLevel | undefined;
}

/** A stock level with when the look-up that found it began (performance.now()). */
interface HeldLevel {
  level: StockLevel | undefined;
  lookedUpAt: number;
}

/** The newer of two levels of one product (a later move has a higher number). */
function newer(a: StockLevel | undefined, b: StockLevel | undefined): StockLevel | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.seq > a.seq ? b : a;
}

/** A product as held, with what the filters compare, prepared once. */
interface Entry {
  product: Product;
  /** Name and description in lower case, for the text filter. */
  text: string;
}

function byCatalogOrder(a: ProductCursor, b: ProductCursor): number {
  return a.createTime.getTime() - b.createTime.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The first index of `list` whose product comes after `cursor` in catalog order. */
function after(list: readonly Entry[], cursor: ProductCursor): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const entry = list[middle];
    if (entry && byCatalogOrder(entry.product, cursor) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

function matches(entry: Entry, filter: ProductFilter, words: readonly string[]): boolean {
  const price = entry.product.price.amountMinor;
  if (filter.minPriceMinor !== undefined && price < filter.minPriceMinor) return false;
  if (filter.maxPriceMinor !== undefined && price > filter.maxPriceMinor) return false;
  return words.every((word) => entry.text.includes(word));
}

function entryOf(product: Product): Entry {
  // A word never holds whitespace, so no match can span the line break between the two.
  return { product, text: `${product.name}\n${product.description}`.toLowerCase() };
}

/**
 * The catalog of one instance. Every catalog write of any instance appends a change (1, 2, ... without
 * gaps: each number is the insert of one writer) after writing the product; a read first looks up the
 * change after the last one applied unless a look-up began less than `stalenessMs` ago, so a read sees
 * every write that completed `stalenessMs` before it began, through whichever instance it was made (with
 * 0, every write that completed before it began). Concurrent reads share those look-ups
 * ({@linkcode FreshRead}), as they share the stock-level look-ups of one product, which are held as long.
 *
 * @example
 * ```ts
 * declare const store: ProductStore;
 * const view = new CatalogView(store);
 * await view.load();
 * const page = await view.list({ category: "books" }, 20, undefined);
 * ```
 */
export class CatalogView {
  #store: ProductStore;
  #onConflict: (() => void) | undefined;
  #entries = new Map<string, Entry>();
  /** Every entry in catalog order; rebuilt when stale. */
  #ordered: Entry[] = [];
  #byCategory = new Map<string, Entry[]>();
  #stale = true;
  /** The last change applied. */
  #head = 0;
  #loaded: Promise<void> | undefined;
  #heads = new FreshRead<void>();
  #levels = new FreshRead<StockLevel | undefined>();
  #stalenessMs: number;
  #knownLevel: (productId: string) => StockLevel | undefined;
  /** When the last change look-up that completed began (performance.now()). */
  #checkedAt = -Infinity;
  /** The stock levels looked up, by product (dropped with the product). */
  #held = new Map<string, HeldLevel>();

  /** Creates an empty view over a store; {@linkcode load} fills it. */
  constructor(store: ProductStore, options: CatalogViewOptions = {}) {
    this.#store = store;
    this.#onConflict = options.onConflict;
    this.#stalenessMs = options.stalenessMs ?? 0;
    this.#knownLevel = options.knownLevel ?? (() => undefined);
  }

  /** Reads the whole catalog (once; later calls wait for the first). */
  load(): Promise<void> {
    this.#loaded ??= (async () => {
      // The head first: every change up to it is in the products read next, later ones are applied.
      this.#head = await this.#store.catalogHead();
      await this.#readChanges();
      for (const product of await this.#store.allProducts()) this.#entries.set(product.id, entryOf(product));
      this.#stale = true;
    })();
    return this.#loaded;
  }

  /** One product with its stock now, or undefined. */
  async get(id: string): Promise<Product | undefined> {
    // A product this instance does not hold yet is looked for in the change log before its stock.
    const held = this.#entries.has(id);
    const [, early] = await Promise.all([this.#fresh(), held ? this.#level(id) : undefined]);
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const level = held ? early : await this.#level(id);
    return { ...entry.product, stock: level?.stock ?? entry.product.stock };
  }

  /**
   * The products of these ids that exist, as the catalog stands now (every change that completed
   * before this call, whatever `stalenessMs` says: an order is priced from these), for their names and
   * prices: their `stock` is not read (it is the stock as of their last change).
   */
  async catalogFields(ids: readonly string[]): Promise<Product[]> {
    await this.#fresh(0);
    return ids.flatMap((id) => {
      const entry = this.#entries.get(id);
      return entry ? [{ ...entry.product }] : [];
    });
  }

  /** A page of products in catalog order (creation time, then id), filtered, after `cursor`. */
  async list(
    filter: ProductFilter,
    pageSize: number,
    cursor: ProductCursor | undefined,
  ): Promise<ProductPage> {
    await this.#fresh();
    this.#rebuild();
    const list = filter.category === undefined ? this.#ordered : this.#byCategory.get(filter.category) ?? [];
    const words = (filter.words ?? []).map((word) => word.toLowerCase());
    const found: Entry[] = [];
    for (let i = cursor ? after(list, cursor) : 0; i < list.length && found.length <= pageSize; i++) {
      const entry = list[i];
      if (entry && matches(entry, filter, words)) found.push(entry);
    }
    const page = found.slice(0, pageSize);
    const levels = await Promise.all(page.map((entry) => this.#level(entry.product.id)));
    const products = page.map((entry, i) => ({
      ...entry.product,
      stock: levels[i]?.stock ?? entry.product.stock,
    }));
    const last = products[products.length - 1];
    return {
      products,
      next: found.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    };
  }

  /**
   * Records a change of a product that is already written (`product`, or undefined: deleted), for every
   * instance: appends it after the last change, reading others' changes first when one came between.
   */
  async record(productId: string, product: Product | undefined, now: Date): Promise<void> {
    await this.load();
    for (let attempt = 0;; attempt++) {
      const change: CatalogChange = { seq: this.#head + 1, productId, product, time: now };
      if (await this.#store.insertCatalogChange(change)) {
        this.#apply([change]);
        // A hint for starting instances; the next write corrects a lost one.
        await this.#store.saveCatalogHead(change.seq);
        return;
      }
      this.#onConflict?.();
      await this.#readChanges();
      if (attempt > 1000) throw new Error("the catalog change log keeps moving; giving up");
    }
  }

  /** Whether this instance holds a product (so a retried create knows whether its change was recorded). */
  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /**
   * Applies every change made `stalenessMs` before this call began (one shared look-up for concurrent
   * callers; none while the last one is that recent; with 0, every change made before it began).
   */
  async #fresh(stalenessMs = this.#stalenessMs): Promise<void> {
    await this.load();
    if (performance.now() - this.#checkedAt < stalenessMs) return;
    await this.#heads.read("head", async () => {
      const began = performance.now();
      await this.#readChanges();
      this.#checkedAt = Math.max(this.#checkedAt, began);
    });
  }

  /** Applies the changes after the last one applied, as far as there are any. */
  async #readChanges(): Promise<void> {
    // The common case, nothing new, is one look-up by number.
    const next = await this.#store.catalogChange(this.#head + 1);
    if (!next) return;
    this.#apply([next]);
    for (;;) {
      const changes = await this.#store.catalogChangesFrom(this.#head + 1);
      if (changes.length === 0) return;
      this.#apply(changes);
    }
  }

  #apply(changes: readonly CatalogChange[]): void {
    for (const change of changes) {
      if (change.seq !== this.#head + 1) break;
      this.#head = change.seq;
      const before = this.#entries.get(change.productId);
      if (change.product) {
        const entry = entryOf(change.product);
        this.#entries.set(change.productId, entry);
        // One new product is put in place; anything else rebuilds the order at the next list.
        if (!before && !this.#stale && changes.length === 1) this.#insert(entry);
        else this.#stale = true;
      } else if (before) {
        this.#entries.delete(change.productId);
        this.#held.delete(change.productId);
        this.#stale = true;
      }
    }
  }

  #insert(entry: Entry): void {
    this.#ordered.splice(after(this.#ordered, entry.product), 0, entry);
    const category = this.#byCategory.get(entry.product.category);
    if (category) category.splice(after(category, entry.product), 0, entry);
    else this.#byCategory.set(entry.product.category, [entry]);
  }

  #rebuild(): void {
    if (!this.#stale) return;
    this.#ordered = [...this.#entries.values()].sort((a, b) => byCatalogOrder(a.product, b.product));
    this.#byCategory = new Map();
    for (const entry of this.#ordered) {
      const list = this.#byCategory.get(entry.product.category);
      if (list) list.push(entry);
      else this.#byCategory.set(entry.product.category, [entry]);
    }
    this.#stale = false;
  }

  /**
   * A product's stock level as of a look-up that began less than `stalenessMs` before this call (with
   * 0: after it; shared by concurrent callers), or as this instance's own last move left it if newer.
   */
  async #level(id: string): Promise<StockLevel | undefined> {
    const held = this.#held.get(id);
    const level = held && performance.now() - held.lookedUpAt < this.#stalenessMs
      ? held.level
      : await this.#levels.read(id, async () => {
        const began = performance.now();
        const found = (await this.#store.stockLevels([id])).get(id);
        const before = this.#held.get(id);
        const kept = newer(before?.level, found);
        // Only for products in the catalog, so that the levels held never outgrow it.
        if (this.#entries.has(id)) {
          this.#held.set(id, { level: kept, lookedUpAt: Math.max(before?.lookedUpAt ?? -Infinity, began) });
        }
        return kept;
      });
    return newer(level, this.#knownLevel(id));
  }
}
