/**
 * Products of the catalog: what a product is, and the rules about its fields.
 *
 * @module
 */
import { type FieldProblem, invalidArgument } from "@shop/platform/errors";

/** An amount of money in integer minor units (cents for USD) and an ISO 4217 code. Never a float. */
export interface Money {
  currencyCode: string;
  amountMinor: bigint;
}

/** One picture of a product: where it is and what it shows, for people who cannot see it. */
export interface ProductImage {
  /** A path the gateway serves under `/images/`, or an https URL. */
  uri: string;
  altText: string;
}

/** A product of the catalog. */
export interface Product {
  id: string;
  /** The merchant's stock-keeping unit, unique in the catalog. */
  sku: string;
  name: string;
  description: string;
  /** A lower-case slug such as `books`. */
  category: string;
  /** The unit price. */
  price: Money;
  /** Units available to order now: reserved units are not counted. */
  stock: number;
  /** Pictures, the first one the main picture (none: the storefront shows none). */
  images: ProductImage[];
  createTime: Date;
  updateTime: Date;
}

/** The fields of a product an admin may set (stock has its own path through the stock log). */
export type CatalogFields = Pick<Product, "sku" | "name" | "description" | "category" | "price" | "images">;

/** The fields `UpdateProduct`'s mask may name, in proto names. */
export const updatablePaths = ["sku", "name", "description", "category", "price", "stock", "images"] as const;

/** One of {@linkcode updatablePaths}. */
export type UpdatablePath = typeof updatablePaths[number];

/** The highest price accepted: 1 000 000 000.00 in a two-decimal currency (the proto's own cap). */
export const maxPriceMinor = 100_000_000_000n;
/** The most units one product may hold (the proto's own cap). */
export const maxStock = 1_000_000;
/** The most pictures one product may have (the proto's own cap). */
export const maxImages = 8;
/** The longest picture address accepted (the proto's own cap). */
export const maxImageUriLength = 2048;
/** The longest alt text accepted (the proto's own cap). */
export const maxAltTextLength = 300;

const skuPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const categoryPattern = /^[a-z0-9][a-z0-9-]*$/;
const currencyPattern = /^[A-Z]{3}$/;
const gatewayImagePath = /^\/images\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
// deno-lint-ignore no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/;
// deno-lint-ignore no-control-regex
const controlCharactersButLineBreaks = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function textProblem(
  value: string,
  options: { min: number; max: number; multiline?: boolean },
): string | undefined {
  const length = [...value].length;
  if (length < options.min) {
    return options.min === 1 ? "must not be empty" : `must be at least ${options.min} characters`;
  }
  if (length > options.max) return `must be at most ${options.max} characters`;
  const forbidden = options.multiline ? controlCharactersButLineBreaks : controlCharacters;
  if (forbidden.test(value)) return "must not contain control characters";
  return undefined;
}

/** Why a picture's address is not one the shop shows, or undefined when it is fine. */
function imageUriProblem(uri: string): string | undefined {
  const problem = textProblem(uri, { min: 1, max: maxImageUriLength });
  if (problem) return problem;
  if (gatewayImagePath.test(uri)) return undefined;
  if (URL.canParse(uri) && new URL(uri).protocol === "https:" && !/\s/.test(uri)) return undefined;
  return "must be a path under /images/ or an https URL";
}

function imageProblems(
  images: readonly ProductImage[],
  add: (field: string, problem?: string) => void,
): void {
  if (images.length > maxImages) add("images", `must hold at most ${maxImages} pictures`);
  images.forEach((image, i) => {
    add(`images[${i}].uri`, imageUriProblem(image.uri));
    add(`images[${i}].alt_text`, textProblem(image.altText, { min: 1, max: maxAltTextLength }));
  });
}

/**
 * The problems of the catalog fields named in `paths` (all of them for a new product), each naming its
 * field as `<prefix><field>`; an empty list when they are fine. The proto rules check most of this at the
 * edge already; the domain checks again so that no adapter can store a product that breaks them.
 *
 * @example
 * ```ts
 * const product = { sku: "BK-1", name: "Dune", description: "", category: "books",
 *   price: { currencyCode: "USD", amountMinor: 1999n }, images: [] };
 * catalogFieldProblems(product, ["sku", "name", "price"], "product."); // []
 * ```
 */
export function catalogFieldProblems(
  fields: CatalogFields,
  paths: readonly string[],
  prefix = "",
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const add = (field: string, description: string | undefined) => {
    if (description) problems.push({ field: `${prefix}${field}`, description });
  };
  if (paths.includes("sku")) {
    add(
      "sku",
      textProblem(fields.sku, { min: 1, max: 64 }) ??
        (skuPattern.test(fields.sku)
          ? undefined
          : "must be letters, digits, '.', '_' or '-', starting with a letter or digit"),
    );
  }
  if (paths.includes("name")) add("name", textProblem(fields.name, { min: 1, max: 200 }));
  if (paths.includes("description")) {
    add("description", textProblem(fields.description, { min: 0, max: 5000, multiline: true }));
  }
  if (paths.includes("category")) {
    add(
      "category",
      textProblem(fields.category, { min: 1, max: 64 }) ??
        (categoryPattern.test(fields.category) ? undefined : 'must be a lower-case slug such as "kitchen"'),
    );
  }
  if (paths.includes("price")) {
    if (!currencyPattern.test(fields.price.currencyCode)) {
      add("price.currency_code", "must be three upper-case letters such as USD");
    }
    if (fields.price.amountMinor <= 0n) add("price.amount_minor", "must be greater than 0");
    if (fields.price.amountMinor > maxPriceMinor) {
      add("price.amount_minor", `must be at most ${maxPriceMinor}`);
    }
  }
  if (paths.includes("images")) imageProblems(fields.images, add);
  return problems;
}

/**
 * Throws INVALID_ARGUMENT naming every field at fault, if any.
 *
 * @example
 * ```ts
 * checkStock("product.stock", 5); // fine
 * ```
 */
export function checkStock(field: string, stock: number): void {
  if (!Number.isSafeInteger(stock) || stock < 0 || stock > maxStock) {
    throw invalidArgument([{ field, description: `must be a whole number from 0 to ${maxStock}` }]);
  }
}

/**
 * Trims what people type around names; SKUs, categories and descriptions are kept as given.
 *
 * @example
 * ```ts
 * normalizeCatalogFields({ sku: "A-1", name: "  Kettle ", description: "", category: "kitchen",
 *   price: { currencyCode: "EUR", amountMinor: 2500n }, images: [] }).name; // "Kettle"
 * ```
 */
export function normalizeCatalogFields(fields: CatalogFields): CatalogFields {
  return {
    ...fields,
    name: fields.name.trim(),
    images: fields.images.map((image) => ({ uri: image.uri.trim(), altText: image.altText.trim() })),
  };
}
