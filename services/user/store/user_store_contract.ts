/**
 * The one contract every {@linkcode UserStore} adapter must meet; each adapter's test file runs it.
 *
 * @module
 */
import { contractTest, type StoreFixture as KitStoreFixture } from "@shop/platform/testing";
import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import type { AttemptDecision } from "../domain/attempt_schedule.ts";
import type { UserStore } from "../domain/ports.ts";
import type { User } from "../domain/user.ts";

/** A fresh, empty store for one test, and how to throw it away. */
export type StoreFixture = KitStoreFixture<UserStore>;

let clock = Date.parse("2026-01-01T00:00:00Z");
function tick(): Date {
  clock += 1000;
  return new Date(clock);
}

function newUser(email: string, overrides: Partial<User> = {}): User {
  const now = tick();
  return {
    id: crypto.randomUUID(),
    email,
    displayName: "Ada",
    role: "customer",
    createTime: now,
    updateTime: now,
    ...overrides,
  };
}

function token(userId: string, familyId = crypto.randomUUID(), ttlMs = 60_000, familyTtlMs = 3_600_000) {
  const now = tick();
  return {
    tokenHash: crypto.randomUUID().replaceAll("-", ""),
    userId,
    familyId,
    createTime: now,
    expireTime: new Date(now.getTime() + ttlMs),
    familyExpireTime: new Date(now.getTime() + familyTtlMs),
  };
}

const schedule = { free: 3, firstWaitMs: 1_000, maxWaitMs: 60_000, resetAfterMs: 600_000 };

async function isAlreadyExists(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return false;
  } catch (error) {
    if (error instanceof DomainError && error.kind === "already_exists") return true;
    throw error;
  }
}

/**
 * Registers the contract's tests for one adapter.
 *
 * @example
 * ```ts
 * import { MemoryUserStore } from "./memory_user_store.ts";
 * userStoreContract("MemoryUserStore", () => Promise.resolve({ store: new MemoryUserStore(), cleanup: async () => {} }));
 * ```
 */
export function userStoreContract(name: string, fixture: () => Promise<StoreFixture>): void {
  const test = contractTest(name, fixture);

  test("a created user is found by id and by email key, with its password hash", async (store) => {
    const user = await store.createUser(newUser("Ada@Example.com"), "hash-1");
    assert.deepEqual(await store.findUser(user.id), user);
    const credentials = await store.findCredentials("ada@example.com");
    assert.deepEqual(credentials, { user, passwordHash: "hash-1" });
    assert.equal(await store.passwordHash(user.id), "hash-1");
    assert.equal(await store.findUser(crypto.randomUUID()), undefined);
  });

  test("an email taken in any case is ALREADY_EXISTS", async (store) => {
    await store.createUser(newUser("ada@example.com"), "h");
    assert.ok(await isAlreadyExists(store.createUser(newUser("ADA@example.COM"), "h")));
  });

  test("concurrent registrations of one email create exactly one account", async (store) => {
    const attempts = Array.from({ length: 10 }, () => store.createUser(newUser("race@example.com"), "h"));
    const results = await Promise.allSettled(attempts);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const result of results) {
      if (result.status === "rejected") assert.ok(await isAlreadyExists(Promise.reject(result.reason)));
    }
  });

  test("profile changes persist and report the updated user", async (store) => {
    const user = await store.createUser(newUser("grace@example.com"), "h");
    const later = tick();
    const renamed = await store.updateDisplayName(user.id, "Grace Hopper", later);
    assert.equal(renamed?.displayName, "Grace Hopper");
    assert.equal(renamed?.updateTime.getTime(), later.getTime());
    assert.equal((await store.setRole(user.id, "admin", tick()))?.role, "admin");
    await store.setPasswordHash(user.id, "hash-2", tick());
    assert.equal(await store.passwordHash(user.id), "hash-2");
    assert.equal(await store.updateDisplayName(crypto.randomUUID(), "x", tick()), undefined);
  });

  test("listUsers() pages every user once, in registration order", async (store) => {
    const created: User[] = [];
    for (let i = 0; i < 7; i++) created.push(await store.createUser(newUser(`user${i}@example.com`), "h"));
    const seen: string[] = [];
    let page = await store.listUsers(3, undefined);
    seen.push(...page.users.map((u) => u.id));
    while (page.next) {
      page = await store.listUsers(3, page.next);
      seen.push(...page.users.map((u) => u.id));
    }
    assert.deepEqual(seen, created.map((u) => u.id));
  });

  test("a refresh token rotates once; its reuse revokes the whole family", async (store) => {
    const user = await store.createUser(newUser("rot@example.com"), "h");
    const first = token(user.id);
    await store.saveRefreshToken(first);
    const second = token(user.id);
    assert.deepEqual(await store.rotateRefreshToken(first.tokenHash, second, tick()), {
      kind: "rotated",
      userId: user.id,
    });
    const third = token(user.id);
    assert.deepEqual(await store.rotateRefreshToken(first.tokenHash, third, tick()), {
      kind: "reused",
      userId: user.id,
    });
    // The successor died with its family.
    assert.deepEqual(await store.rotateRefreshToken(second.tokenHash, token(user.id), tick()), {
      kind: "invalid",
    });
  });

  test("of concurrent rotations of one token exactly one wins", async (store) => {
    const user = await store.createUser(newUser("race-rot@example.com"), "h");
    const live = token(user.id);
    await store.saveRefreshToken(live);
    const now = tick();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => store.rotateRefreshToken(live.tokenHash, token(user.id), now)),
    );
    assert.equal(outcomes.filter((o) => o.kind === "rotated").length, 1);
  });

  test("unknown, expired and revoked refresh tokens are invalid", async (store) => {
    const user = await store.createUser(newUser("dead@example.com"), "h");
    assert.deepEqual(await store.rotateRefreshToken("no-such-token", token(user.id), tick()), {
      kind: "invalid",
    });
    const expiring = token(user.id, crypto.randomUUID(), 500);
    await store.saveRefreshToken(expiring);
    assert.deepEqual(await store.rotateRefreshToken(expiring.tokenHash, token(user.id), tick()), {
      kind: "invalid",
    });
    const signedOut = token(user.id);
    await store.saveRefreshToken(signedOut);
    await store.revokeRefreshTokenFamily(signedOut.tokenHash, tick());
    assert.deepEqual(await store.rotateRefreshToken(signedOut.tokenHash, token(user.id), tick()), {
      kind: "invalid",
    });
    const other = token(user.id);
    await store.saveRefreshToken(other);
    await store.revokeUserRefreshTokens(user.id, tick());
    assert.deepEqual(await store.rotateRefreshToken(other.tokenHash, token(user.id), tick()), {
      kind: "invalid",
    });
  });

  test("no rotation makes a refresh token outlive its family", async (store) => {
    const user = await store.createUser(newUser("family@example.com"), "h");
    // The family ends 2.5 s after the first token, each token would live a minute.
    const first = token(user.id, crypto.randomUUID(), 60_000, 2_500);
    await store.saveRefreshToken(first);
    const second = token(user.id);
    assert.equal((await store.rotateRefreshToken(first.tokenHash, second, tick())).kind, "rotated");
    assert.equal((await store.rotateRefreshToken(second.tokenHash, token(user.id), tick())).kind, "invalid");
  });

  test("login failures are counted per key within a window", async (store) => {
    const start = tick();
    await store.recordLoginFailure("account:a@example.com", tick());
    await store.recordLoginFailure("account:a@example.com", tick());
    await store.recordLoginFailure("account:b@example.com", tick());
    const counted = await store.loginFailures("account:a@example.com", start);
    assert.equal(counted.count, 2);
    assert.ok(counted.oldest && counted.oldest > start);
    assert.equal((await store.loginFailures("account:a@example.com", tick())).count, 0);
    assert.equal((await store.loginFailures("account:b@example.com", start)).count, 1);
  });

  test("of concurrent attempts at one key, only the schedule's free ones are admitted", async (store) => {
    const now = tick();
    const decisions = await Promise.all(
      Array.from({ length: 40 }, () => store.takeAttempt("pair:a@example.com|127.0.0.2", schedule, now)),
    );
    assert.equal(decisions.filter((d) => d.admitted).length, schedule.free);
    const refused = decisions.find((d): d is Extract<AttemptDecision, { admitted: false }> => !d.admitted);
    assert.equal(refused?.retryAt.getTime(), now.getTime() + schedule.firstWaitMs);
    // Other keys are not affected.
    assert.ok((await store.takeAttempt("pair:a@example.com|127.0.0.3", schedule, now)).admitted);
  });

  test("attempts wait as the schedule says, and are released and cleared", async (store) => {
    const key = "address:127.0.0.9";
    const start = tick();
    for (let i = 0; i < schedule.free; i++) {
      assert.ok((await store.takeAttempt(key, schedule, start)).admitted);
    }
    const at = (ms: number) => new Date(start.getTime() + ms);
    assert.equal((await store.takeAttempt(key, schedule, at(999))).admitted, false);
    assert.ok((await store.takeAttempt(key, schedule, at(1_000))).admitted);
    // Now two seconds after that attempt; releasing it brings the wait back to one second.
    assert.equal((await store.takeAttempt(key, schedule, at(2_000))).admitted, false);
    await store.releaseAttempt(key);
    assert.ok((await store.takeAttempt(key, schedule, at(2_000))).admitted);
    await store.clearAttempts(key);
    for (let i = 0; i < schedule.free; i++) {
      assert.ok((await store.takeAttempt(key, schedule, at(2_001))).admitted);
    }
    await store.releaseAttempt("address:never-seen");
  });

  test("purge deletes old failures, idle attempts and expired refresh tokens, and nothing else", async (store) => {
    const user = await store.createUser(newUser("purge@example.com"), "h");
    const old = tick();
    await store.recordLoginFailure("account:purge@example.com", old);
    await store.takeAttempt("pair:purge@example.com|", schedule, old);
    const expired = token(user.id, crypto.randomUUID(), 500);
    await store.saveRefreshToken(expired);
    const cutoff = tick();
    const recent = tick();
    await store.recordLoginFailure("account:purge@example.com", recent);
    await store.takeAttempt("pair:purge@example.com|127.0.0.2", schedule, recent);
    const live = token(user.id);
    await store.saveRefreshToken(live);

    assert.deepEqual(
      await store.purge({ loginFailures: cutoff, attempts: cutoff, refreshTokens: cutoff }),
      { loginFailures: 1, attempts: 1, refreshTokens: 1 },
    );
    assert.equal((await store.loginFailures("account:purge@example.com", old)).count, 1);
    assert.equal(
      (await store.takeAttempt("pair:purge@example.com|127.0.0.2", { ...schedule, free: 1 }, recent))
        .admitted,
      false,
    );
    assert.equal((await store.rotateRefreshToken(live.tokenHash, token(user.id), tick())).kind, "rotated");
  });
}
