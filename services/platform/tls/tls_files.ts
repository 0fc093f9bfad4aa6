import { join } from "node:path";

/** PEM material for one identity: its key and certificate, and the CA that signs every peer. */
export interface TlsFiles {
  /** PEM private key. */
  key: string;
  /** PEM certificate. */
  cert: string;
  /** PEM certificate of the CA that peers must be signed by. */
  ca: string;
}

/**
 * Reads `<name>.key`, `<name>.crt` and `ca.crt` from a directory laid out by `scripts/certs`.
 *
 * @example
 * ```ts
 * const tls = await readTlsFiles("certs/dev", "order");
 * ```
 */
export async function readTlsFiles(dir: string, name: string): Promise<TlsFiles> {
  const [key, cert, ca] = await Promise.all([
    Deno.readTextFile(join(dir, `${name}.key`)),
    Deno.readTextFile(join(dir, `${name}.crt`)),
    Deno.readTextFile(join(dir, "ca.crt")),
  ]);
  return { key, cert, ca };
}

/** The URI SAN prefix that names a shop identity: `spiffe://shop.local/<name>`. */
export const identityUriPrefix = "spiffe://shop.local/";

/**
 * The shop identity a certificate names in its URI SAN, from Node's `subjectaltname` string
 * (`"DNS:order, URI:spiffe://shop.local/order"`), or undefined when it names none.
 *
 * @example
 * ```ts
 * identityFromSubjectAltName("DNS:order, URI:spiffe://shop.local/order"); // "order"
 * ```
 */
export function identityFromSubjectAltName(subjectAltName: string | undefined): string | undefined {
  for (const entry of (subjectAltName ?? "").split(",")) {
    const value = entry.trim();
    if (value.startsWith(`URI:${identityUriPrefix}`)) {
      const name = value.slice(`URI:${identityUriPrefix}`.length);
      if (/^[a-z][a-z0-9-]*$/.test(name)) return name;
    }
  }
  return undefined;
}

/**
 * Makes sure the dev certificates exist (runs `scripts/certs`, which is idempotent) and returns their
 * directory. For dev and tests only.
 *
 * @example
 * ```ts
 * const dir = await ensureDevCertificates();
 * const tls = await readTlsFiles(dir, "gateway");
 * ```
 */
export async function ensureDevCertificates(dir?: string): Promise<string> {
  const root = new URL("../../../", import.meta.url).pathname;
  const target = dir ?? Deno.env.get("SHOP_CERTS_DIR") ?? join(root, "certs", "dev");
  const run = await new Deno.Command("bash", {
    args: [join(root, "scripts", "certs"), target],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!run.success) {
    throw new Error(`scripts/certs failed: ${new TextDecoder().decode(run.stderr).trim()}`);
  }
  return target;
}
