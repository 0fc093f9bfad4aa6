import { invalidArgument } from "../errors/domain_error.ts";

/**
 * Encodes a keyset cursor as an opaque page token (base64url JSON). Opaque on purpose: clients must not
 * build tokens, and the service may change what is inside.
 *
 * @example
 * ```ts
 * const token = encodePageToken({ t: 1767225600000, id: "u-1" });
 * decodePageToken(token, isCursor); // { t: 1767225600000, id: "u-1" }
 * function isCursor(value: unknown): value is { t: number; id: string } {
 *   return typeof value === "object" && value !== null && "t" in value && "id" in value;
 * }
 * ```
 */
export function encodePageToken(cursor: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(cursor));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Longer than any token this kit issues; longer ones are refused before decoding. */
const maxTokenLength = 512;

/**
 * Decodes a page token made by {@linkcode encodePageToken}; an empty token is the first page
 * (`undefined`). Anything else that is not exactly what {@linkcode encodePageToken} makes of a value
 * that `isValid` accepts is INVALID_ARGUMENT on `page_token`, so a forged token never reaches a store.
 *
 * @example
 * ```ts
 * decodePageToken("", (v): v is string => typeof v === "string"); // undefined
 * ```
 */
export function decodePageToken<T>(token: string, isValid: (value: unknown) => value is T): T | undefined {
  if (token === "") return undefined;
  if (token.length <= maxTokenLength && /^[A-Za-z0-9_-]+$/.test(token)) {
    try {
      const base64 = token.replaceAll("-", "+").replaceAll("_", "/");
      const text = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)),
      );
      const value: unknown = JSON.parse(text);
      // Only the exact spelling this kit issues: no padding, spaces or reordered keys.
      if (isValid(value) && encodePageToken(value) === token) return value;
    } catch {
      // Falls through to the error below.
    }
  }
  throw invalidPageToken();
}

function invalidPageToken() {
  return invalidArgument([{ field: "page_token", description: "is not a token this service issued" }]);
}

/** The page size when a List request leaves it 0. */
export const defaultPageSize = 20;

/**
 * The page size to use: the request's, or {@linkcode defaultPageSize} when it is 0 (the proto rules
 * already cap it).
 *
 * @example
 * ```ts
 * pageSizeOf(0); // 20
 * ```
 */
export function pageSizeOf(requested: number): number {
  return requested > 0 ? requested : defaultPageSize;
}

/** A position in (create time, id) order: the last item of the previous page; `id` is a UUID. */
export interface TimeCursor {
  createTime: Date;
  id: string;
}

interface TimeCursorToken {
  t: number;
  id: string;
  /** What the token was issued for (a list's filters), so it is refused with any other. */
  f?: string;
}

/** The ids of every resource in the shop: UUIDs in canonical (lower-case) form. */
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The largest time a JavaScript `Date` holds, in ms since the epoch. */
const maxDateMs = 8.64e15;

function isTimeCursorToken(value: unknown): value is TimeCursorToken {
  const v = value as Partial<TimeCursorToken> | null;
  // Checked as tightly as a store needs: a time a Date holds and an id shaped like the shop's ids, so a
  // forged token is INVALID_ARGUMENT here rather than an error inside a query.
  return typeof v === "object" && v !== null && Number.isSafeInteger(v.t) && typeof v.t === "number" &&
    v.t >= 0 && v.t <= maxDateMs && typeof v.id === "string" && uuidPattern.test(v.id) &&
    (v.f === undefined || typeof v.f === "string");
}

/**
 * The page token after a (create time, id) cursor, or "" on the last page. `scope` ties the token to
 * what it was issued for, such as a fingerprint of the list's filters.
 *
 * @example
 * ```ts
 * const id = "0b7f5a2e-4c1d-4e8a-9f3b-2d6c8e1a5b70";
 * const token = encodeTimeCursor({ createTime: new Date(0), id });
 * decodeTimeCursor(token)?.id; // id
 * ```
 */
export function encodeTimeCursor(cursor: TimeCursor | undefined, scope?: string): string {
  if (!cursor) return "";
  return encodePageToken({ t: cursor.createTime.getTime(), id: cursor.id, ...(scope ? { f: scope } : {}) });
}

/**
 * The cursor of a page token made by {@linkcode encodeTimeCursor} with the same `scope`; undefined for
 * the first page; INVALID_ARGUMENT on `page_token` for anything else, including a cursor whose id is
 * not a UUID or whose time is not one a `Date` holds.
 *
 * @example
 * ```ts
 * decodeTimeCursor(""); // undefined
 * ```
 */
export function decodeTimeCursor(token: string, scope?: string): TimeCursor | undefined {
  const decoded = decodePageToken(
    token,
    (value): value is TimeCursorToken => isTimeCursorToken(value) && value.f === scope,
  );
  return decoded ? { createTime: new Date(decoded.t), id: decoded.id } : undefined;
}
