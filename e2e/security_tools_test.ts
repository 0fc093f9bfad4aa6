import assert from "node:assert/strict";
import { type SslyzeScan, tlsPolicyBreaches } from "./security_tools.ts";

function suites(...names: string[]) {
  return { accepted_cipher_suites: names.map((name) => ({ cipher_suite: { name } })) };
}

/** What sslyze reported for the gateway when the suite was written. */
function goodScan(): SslyzeScan {
  const done = (result: Record<string, unknown>) => ({ status: "COMPLETED", result });
  return {
    scan_status: "COMPLETED",
    scan_result: {
      ssl_2_0_cipher_suites: done(suites()),
      ssl_3_0_cipher_suites: done(suites()),
      tls_1_0_cipher_suites: done(suites()),
      tls_1_1_cipher_suites: done(suites()),
      tls_1_2_cipher_suites: done(suites(
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      )),
      tls_1_3_cipher_suites: done(suites("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256")),
      tls_compression: done({ supports_compression: false }),
      session_renegotiation: done({
        supports_secure_renegotiation: true,
        is_vulnerable_to_client_renegotiation_dos: false,
      }),
      heartbleed: done({ is_vulnerable_to_heartbleed: false }),
      openssl_ccs_injection: done({ is_vulnerable_to_ccs_injection: false }),
      certificate_info: done({
        certificate_deployments: [{
          path_validation_results: [
            { trust_store: { name: "Mozilla" }, was_validation_successful: false },
            { trust_store: { name: "Supplied CA file" }, was_validation_successful: true },
          ],
        }],
      }),
    },
  };
}

Deno.test("tlsPolicyBreaches() passes the scan of a well-configured server", () => {
  assert.deepEqual(tlsPolicyBreaches(goodScan()), []);
});

Deno.test("tlsPolicyBreaches() names each regression: old protocols, non-AEAD suites, compression, the chain", () => {
  const scan = goodScan();
  const results = scan.scan_result ?? {};
  results.tls_1_0_cipher_suites = { status: "COMPLETED", result: suites("TLS_RSA_WITH_AES_128_CBC_SHA") };
  results.tls_1_2_cipher_suites = {
    status: "COMPLETED",
    result: suites("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
  };
  results.tls_compression = { status: "COMPLETED", result: { supports_compression: true } };
  results.certificate_info = {
    status: "COMPLETED",
    result: {
      certificate_deployments: [{
        path_validation_results: [{
          trust_store: { name: "Supplied CA file" },
          was_validation_successful: false,
        }],
      }],
    },
  };
  results.session_renegotiation = { status: "ERROR", result: null };
  assert.deepEqual(tlsPolicyBreaches(scan), [
    "tls_1_0 is accepted: TLS_RSA_WITH_AES_128_CBC_SHA",
    "a suite without AEAD is accepted: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS compression is on",
    "session_renegotiation was not scanned (ERROR)",
    "no secure renegotiation",
    "client-initiated renegotiation is allowed",
    "the certificate chain does not validate against the dev CA",
  ]);
});
