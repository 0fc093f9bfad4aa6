/**
 * The dev demo catalog: a few categories, a dozen products with stock, fixed SKUs.
 *
 * @module
 */
import { DomainError } from "@shop/platform/errors";
import { derivedId } from "./domain/ids.ts";
import type { Catalog } from "./domain/catalog.ts";
import type { ProductImage } from "./domain/product.ts";
import { demoPicture, placeholderSubject } from "./demo_images.ts";

/** One demo product. */
interface DemoProduct {
  sku: string;
  name: string;
  description: string;
  category: string;
  priceMinor: bigint;
  stock: number;
}

/** The demo catalog, in USD. SKUs are fixed so that scripts and docs can name them. */
export const demoCatalog: readonly DemoProduct[] = [
  {
    sku: "BK-DUNE",
    name: "Dune",
    description: "Frank Herbert's desert planet classic, paperback.",
    category: "books",
    priceMinor: 1_299n,
    stock: 40,
  },
  {
    sku: "BK-SICP",
    name: "Structure and Interpretation of Computer Programs",
    description: "The wizard book, second edition.",
    category: "books",
    priceMinor: 5_500n,
    stock: 12,
  },
  {
    sku: "BK-TAOCP1",
    name: "The Art of Computer Programming, Vol. 1",
    description: "Fundamental algorithms, hardcover.",
    category: "books",
    priceMinor: 7_999n,
    stock: 5,
  },
  {
    sku: "KT-KETTLE",
    name: "Electric Kettle",
    description: "1.7 l, stainless steel, auto shut-off.",
    category: "kitchen",
    priceMinor: 3_499n,
    stock: 25,
  },
  {
    sku: "KT-PRESS",
    name: "French Press",
    description: "Borosilicate glass coffee press, 1 l.",
    category: "kitchen",
    priceMinor: 2_450n,
    stock: 30,
  },
  {
    sku: "KT-KNIFE",
    name: "Chef's Knife",
    description: "20 cm carbon steel blade.",
    category: "kitchen",
    priceMinor: 6_900n,
    stock: 8,
  },
  {
    sku: "KT-MUG",
    name: "Enamel Mug",
    description: "Blue enamel camping mug, 350 ml.",
    category: "kitchen",
    priceMinor: 1_200n,
    stock: 100,
  },
  {
    sku: "EL-HEADPH",
    name: "Wireless Headphones",
    description: "Over-ear, noise cancelling, 30 h battery.",
    category: "electronics",
    priceMinor: 19_900n,
    stock: 15,
  },
  {
    sku: "EL-CABLE",
    name: "USB-C Cable",
    description: "2 m, braided, 100 W.",
    category: "electronics",
    priceMinor: 1_599n,
    stock: 200,
  },
  {
    sku: "EL-LAMP",
    name: "Desk Lamp",
    description: "LED desk lamp with dimmer.",
    category: "electronics",
    priceMinor: 4_200n,
    stock: 20,
  },
  {
    sku: "GD-GLOVES",
    name: "Gardening Gloves",
    description: "Leather, size M.",
    category: "garden",
    priceMinor: 1_850n,
    stock: 50,
  },
  {
    sku: "GD-TROWEL",
    name: "Hand Trowel",
    description: "Stainless steel, ash handle.",
    category: "garden",
    priceMinor: 2_100n,
    stock: 3,
  },
];

/** What each category's drawing shows, for the pictures' alt text. */
const drawingOf: Readonly<Record<string, string>> = {
  books: "a closed book",
  kitchen: "a steaming mug",
  electronics: "a screen with a lightning bolt",
  garden: "a leaf",
};

/**
 * The picture of a demo product (committed in `demo_images/`, served by the gateway under `/images/`).
 *
 * @example
 * ```ts
 * const [dune] = demoCatalog;
 * if (dune) (await demoImages(dune))[0]?.uri; // "/images/bk-dune-<hash>.svg"
 * ```
 */
export async function demoImages(
  demo: Pick<DemoProduct, "sku" | "name" | "category">,
): Promise<ProductImage[]> {
  const picture = await demoPicture(demo);
  const drawing = drawingOf[demo.category] ?? "a shape";
  return [{ uri: `/images/${picture.file}`, altText: `${demo.name}: a drawing of ${drawing}` }];
}

/**
 * The address of the placeholder picture (committed beside the demo pictures, served under `/images/`),
 * for products seeded in bulk, such as the bench's: they get a picture without one drawn for each.
 *
 * @example
 * ```ts
 * const images = [{ uri: await placeholderImageUri(), altText: "Blue kettle 3: a placeholder drawing" }];
 * ```
 */
export async function placeholderImageUri(): Promise<string> {
  return `/images/${(await demoPicture(placeholderSubject)).file}`;
}

/**
 * Creates the demo catalog unless it is there already: ids are derived from the SKUs, so every run (and
 * every instance starting at once) aims at the same products and creates each at most once. Products an
 * admin changed since are left as they are; a demo product an admin deleted comes back at the next dev
 * start. Returns how many products it created.
 *
 * @example
 * ```ts
 * declare const catalog: Catalog;
 * await seedDemoCatalog(catalog); // 12 the first time
 * ```
 */
export async function seedDemoCatalog(catalog: Catalog, now: Date = new Date()): Promise<number> {
  let created = 0;
  for (const [i, demo] of demoCatalog.entries()) {
    // One millisecond apart, so that the catalog order is the order above.
    const time = new Date(now.getTime() + i);
    try {
      const outcome = await catalog.add({
        id: await derivedId(`seed:${demo.sku}`),
        sku: demo.sku,
        name: demo.name,
        description: demo.description,
        category: demo.category,
        price: { currencyCode: "USD", amountMinor: demo.priceMinor },
        stock: demo.stock,
        images: await demoImages(demo),
        createTime: time,
        updateTime: time,
      });
      if (outcome.created) created++;
    } catch (error) {
      // An admin gave the SKU to another product: theirs wins.
      if (error instanceof DomainError && error.kind === "already_exists") continue;
      throw error;
    }
  }
  return created;
}
