import assert from "node:assert/strict";
import type { TLSSocket } from "node:tls";
import { peerIdentity } from "./caller.ts";

function socketWith(authorized: boolean, certificate: { subjectaltname?: string } | null): TLSSocket {
  return { authorized, getPeerCertificate: () => certificate } as unknown as TLSSocket;
}

Deno.test("peerIdentity() reads the shop identity of a verified peer, and none of a closing or unverified one", () => {
  assert.equal(
    peerIdentity(socketWith(true, { subjectaltname: "DNS:order, URI:spiffe://shop.local/order" })),
    "order",
  );
  // Deno answers null for the certificate of a connection that is closing: no identity, no crash.
  assert.equal(peerIdentity(socketWith(true, null)), undefined);
  assert.equal(
    peerIdentity(socketWith(false, { subjectaltname: "URI:spiffe://shop.local/order" })),
    undefined,
  );
  assert.equal(peerIdentity(undefined), undefined);
});
