/**
 * TLS material and mTLS identities: every service serves gRPC over mutual TLS, and a peer's identity is
 * the `spiffe://shop.local/<name>` URI SAN of its certificate.
 *
 * @example
 * ```ts
 * import { ensureDevCertificates, readTlsFiles } from "./mod.ts";
 * const tls = await readTlsFiles(await ensureDevCertificates(), "user");
 * ```
 * @module
 */
export * from "./tls_files.ts";
