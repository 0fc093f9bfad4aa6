/**
 * The security suite's scanners from PyPI, which `scripts/setup` installs into the tool cache
 * (`scripts/lib/pip_tools.sh`): schemathesis (the API fuzzer) and sslyze (the TLS scanner).
 *
 * @module
 */
import { toolsDir } from "@shop/platform/testing";

const versionKeys = { schemathesis: "SCHEMATHESIS_VERSION", sslyze: "SSLYZE_VERSION" } as const;

/** A scanner of the suite. */
export type SecurityTool = keyof typeof versionKeys;

/**
 * The path of a scanner's command in the tool cache (pinned in `scripts/lib/versions.env`), or an error
 * that says to run the setup.
 *
 * @example
 * ```ts ignore
 * const st = securityToolPath("schemathesis", "st");
 * ```
 */
export function securityToolPath(tool: SecurityTool, binary: string): string {
  const key = versionKeys[tool];
  const versions = Deno.readTextFileSync(new URL("../scripts/lib/versions.env", import.meta.url));
  const version = versions.split("\n").find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1)
    .trim();
  if (version === undefined || version === "") {
    throw new Error(`${key} is missing from scripts/lib/versions.env`);
  }
  const path = `${toolsDir()}/${tool}-${version}/bin/${binary}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${tool} ${version} is not installed (no ${path}): run \`deno task setup\``);
  }
  return path;
}

/** Suites whose bulk encryption is authenticated (AEAD). */
const aead = /_(GCM|CCM|CHACHA20_POLY1305)(_|$)/;

/** One protocol's cipher suites in an sslyze JSON report. */
export interface CipherSuiteResult {
  accepted_cipher_suites: Array<{ cipher_suite: { name: string } }>;
}

/** One server's result in an sslyze JSON report (`server_scan_results[0]`). */
export interface SslyzeScan {
  scan_status: string;
  scan_result: Record<string, { status: string; result: Record<string, unknown> | null } | null> | null;
}

/**
 * The findings of one sslyze scan that break the shop's TLS policy: TLS 1.2 and 1.3 only (1.3 offered),
 * AEAD suites only, a chain valid for the dev CA (`--certinfo_ca_file`), no compression, secure
 * renegotiation and no client-initiated one, no Heartbleed or CCS injection. Empty when all is well.
 *
 * @example
 * ```ts ignore
 * assert.deepEqual(tlsPolicyBreaches(scan), []);
 * ```
 */
export function tlsPolicyBreaches(scan: SslyzeScan): string[] {
  const results = scan.scan_result ?? {};
  const breaches: string[] = [];
  const result = (name: string) => {
    const entry = results[name];
    if (entry?.status !== "COMPLETED" || entry.result === null) {
      breaches.push(`${name} was not scanned (${entry?.status})`);
      return undefined;
    }
    return entry.result;
  };
  const accepted = (name: string) =>
    ((result(name) as CipherSuiteResult | undefined)?.accepted_cipher_suites ?? []).map((s) =>
      s.cipher_suite.name
    );
  for (const old of ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"]) {
    const suites = accepted(`${old}_cipher_suites`);
    if (suites.length > 0) breaches.push(`${old} is accepted: ${suites.join(", ")}`);
  }
  const tls13 = accepted("tls_1_3_cipher_suites");
  if (tls13.length === 0) breaches.push("TLS 1.3 is not offered");
  for (const suite of [...accepted("tls_1_2_cipher_suites"), ...tls13]) {
    if (!aead.test(suite)) breaches.push(`a suite without AEAD is accepted: ${suite}`);
  }
  if (result("tls_compression")?.supports_compression !== false) breaches.push("TLS compression is on");
  const renegotiation = result("session_renegotiation");
  if (renegotiation?.supports_secure_renegotiation !== true) breaches.push("no secure renegotiation");
  if (renegotiation?.is_vulnerable_to_client_renegotiation_dos !== false) {
    breaches.push("client-initiated renegotiation is allowed");
  }
  if (result("heartbleed")?.is_vulnerable_to_heartbleed !== false) breaches.push("heartbleed");
  if (result("openssl_ccs_injection")?.is_vulnerable_to_ccs_injection !== false) {
    breaches.push("CCS injection");
  }
  const deployments = (result("certificate_info")?.certificate_deployments ?? []) as Array<{
    path_validation_results: Array<{ trust_store: { name: string }; was_validation_successful: boolean }>;
  }>;
  const devCa = deployments.flatMap((d) => d.path_validation_results)
    .filter((r) => r.trust_store.name === "Supplied CA file");
  if (devCa.length === 0 || !devCa.every((r) => r.was_validation_successful)) {
    breaches.push("the certificate chain does not validate against the dev CA");
  }
  return breaches;
}
