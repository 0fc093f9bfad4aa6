import assert from "node:assert/strict";
import { createScryptHasher } from "./password_hasher.ts";

Deno.test("a scrypt hash verifies its password only, and carries its parameters and a fresh salt", async () => {
  const hasher = await createScryptHasher({ logN: 12, r: 8, p: 1 });
  const first = await hasher.hash("correct horse battery");
  const second = await hasher.hash("correct horse battery");
  assert.match(first, /^\$scrypt\$ln=12,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.notEqual(first, second, "each hash has its own salt");
  assert.equal(await hasher.verify("correct horse battery", first), true);
  assert.equal(await hasher.verify("correct horse batterY", first), false);
  assert.equal(await hasher.verify("correct horse battery", "$scrypt$garbage"), false);
  assert.equal(await hasher.verify("anything", hasher.decoyHash), false);
});

Deno.test("a hash made with weaker parameters is flagged for rehashing", async () => {
  const weak = await (await createScryptHasher({ logN: 12, r: 8, p: 1 })).hash("correct horse battery");
  const current = await createScryptHasher({ logN: 13, r: 8, p: 1 });
  assert.equal(current.needsRehash(weak), true);
  assert.equal(current.needsRehash(await current.hash("correct horse battery")), false);
  assert.equal(await current.verify("correct horse battery", weak), true, "old hashes still verify");
});
