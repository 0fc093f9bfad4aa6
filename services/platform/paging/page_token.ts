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

/**
 * Decodes a page token made by {@linkcode encodePageToken}; an empty token is the first page
 * (`undefined`). Anything else that does not decode to a valid cursor is INVALID_ARGUMENT on
 * `page_token`.
 *
 * @example
 * ```ts
 * decodePageToken("", (v): v is string => typeof v === "string"); // undefined
 * ```
 */
export function decodePageToken<T>(token: string, isValid: (value: unknown) => value is T): T | undefined {
  if (token === "") return undefined;
  try {
    const base64 = token.replaceAll("-", "+").replaceAll("_", "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const value: unknown = JSON.parse(text);
    if (isValid(value)) return value;
  } catch {
    // Falls through to the error below.
  }
  throw invalidArgument([{ field: "page_token", description: "is not a token this service issued" }]);
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

/** A position in (create time, id) order: the last item of the previous page. */
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

function isTimeCursorToken(value: unknown): value is TimeCursorToken {
  const v = value as Partial<TimeCursorToken> | null;
  return typeof v === "object" && v !== null && typeof v.t === "number" && Number.isFinite(v.t) &&
    typeof v.id === "string" && v.id.length <= 128 && (v.f === undefined || typeof v.f === "string");
}

/**
 * The page token after a (create time, id) cursor, or "" on the last page. `scope` ties the token to
 * what it was issued for, such as a fingerprint of the list's filters.
 *
 * @example
 * ```ts
 * const token = encodeTimeCursor({ createTime: new Date(0), id: "u-1" });
 * decodeTimeCursor(token)?.id; // "u-1"
 * ```
 */
export function encodeTimeCursor(cursor: TimeCursor | undefined, scope?: string): string {
  if (!cursor) return "";
  return encodePageToken({ t: cursor.createTime.getTime(), id: cursor.id, ...(scope ? { f: scope } : {}) });
}

/**
 * The cursor of a page token made by {@linkcode encodeTimeCursor} with the same `scope`; undefined for
 * the first page; INVALID_ARGUMENT on `page_token` for anything else.
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
