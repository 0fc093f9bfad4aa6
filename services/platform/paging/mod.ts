/**
 * AIP-158 pagination helpers: opaque page tokens over keyset cursors, and the default page size.
 *
 * @example
 * ```ts
 * import { encodePageToken, pageSizeOf } from "./mod.ts";
 * ```
 * @module
 */
export * from "./page_token.ts";
