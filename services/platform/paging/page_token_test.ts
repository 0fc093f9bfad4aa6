import assert from "node:assert/strict";
import { DomainError } from "../errors/domain_error.ts";
import { decodeTimeCursor, encodePageToken, encodeTimeCursor } from "./page_token.ts";

const id = "0b7f5a2e-4c1d-4e8a-9f3b-2d6c8e1a5b70";

function base64url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function refusal(token: string, scope?: string): DomainError {
  try {
    decodeTimeCursor(token, scope);
  } catch (error) {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${error}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(token)} to be refused`);
}

Deno.test("a time cursor survives its page token, with and without a scope", () => {
  const cursor = { createTime: new Date("2026-01-02T03:04:05.678Z"), id };
  assert.deepEqual(decodeTimeCursor(encodeTimeCursor(cursor)), cursor);
  assert.deepEqual(decodeTimeCursor(encodeTimeCursor(cursor, "books"), "books"), cursor);
  assert.equal(encodeTimeCursor(undefined), "");
  assert.equal(decodeTimeCursor(""), undefined);
});

Deno.test("every malformed page token is INVALID_ARGUMENT naming page_token", () => {
  const forged = [
    "forged",
    "!!!",
    "a".repeat(5_000),
    base64url("not json"),
    base64url("null"),
    base64url("[]"),
    base64url('"text"'),
    // The token: well-formed JSON, but not an id this shop ever issued (answered 500 before).
    base64url('{"t":1,"id":"x"}'),
    encodePageToken({ t: 1, id: "" }),
    encodePageToken({ t: 1, id: `${id}' OR 1=1 --` }),
    encodePageToken({ t: 1e300, id }),
    encodePageToken({ t: 8.64e15 + 1, id }),
    encodePageToken({ t: 1.5, id }),
    encodePageToken({ t: -1, id }),
    encodePageToken({ t: "1", id }),
    encodePageToken({ id }),
    encodePageToken({ t: 1, id: 7 }),
    encodePageToken({ t: 1, id, f: 3 }),
    `${encodeTimeCursor({ createTime: new Date(1), id })}==`,
    ` ${encodeTimeCursor({ createTime: new Date(1), id })}`,
  ];
  for (const token of forged) {
    const error = refusal(token);
    assert.equal(error.kind, "invalid_argument", token);
    assert.deepEqual(error.fields.map((f) => f.field), ["page_token"], token);
  }
});

Deno.test("a page token is refused with another scope than the one it was issued for", () => {
  const token = encodeTimeCursor({ createTime: new Date(1), id }, "books");
  assert.deepEqual(refusal(token, "games").fields.map((f) => f.field), ["page_token"]);
  assert.deepEqual(refusal(token).fields.map((f) => f.field), ["page_token"]);
});
