import assert from "node:assert/strict";
import { DomainError } from "@shop/platform/errors";
import { connectPostgres, migrate, readMigrations } from "@shop/platform/postgres";
import { postgresForTests } from "@shop/platform/testing";
import { createScryptHasher } from "../credentials/password_hasher.ts";
import { PostgresUserStore } from "../store/postgres_user_store.ts";
import { createAccountsFixture } from "../testdata/fixtures.ts";
import type { PasswordHasher, UserStore } from "./ports.ts";

/** A real scrypt hasher that counts the passwords it checks. */
async function countingHasher(): Promise<PasswordHasher & { checks: () => number }> {
  const hasher = await createScryptHasher({ logN: 12, r: 8, p: 1 });
  let checks = 0;
  return {
    hash: (password) => hasher.hash(password),
    verify: (password, hash) => {
      checks++;
      return hasher.verify(password, hash);
    },
    needsRehash: (hash) => hasher.needsRehash(hash),
    decoyHash: hasher.decoyHash,
    checks: () => checks,
  };
}

async function concurrentGuesses(store: UserStore | undefined): Promise<void> {
  const hasher = await countingHasher();
  const fixture = await createAccountsFixture({ hasher, ...(store ? { store } : {}) });
  try {
    const ada = { email: "ada@example.com", password: "correct horse battery" };
    await fixture.accounts.register({ ...ada, displayName: "Ada" });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        fixture.accounts.login({
          email: ada.email,
          password: `wrong guess ${i}`,
          clientAddress: "127.0.0.2",
        })),
    );
    const kinds = outcomes.map((o) =>
      o.status === "rejected" && o.reason instanceof DomainError && o.reason.kind
    );
    assert.equal(kinds.filter((kind) => kind === "unauthenticated").length, 3, "three guesses are checked");
    assert.equal(kinds.filter((kind) => kind === "resource_exhausted").length, 37, "the rest wait");
    assert.equal(hasher.checks(), 3, "only the admitted guesses reach scrypt");
    // The owner, from another address, signs in at the first try.
    await fixture.accounts.login({ ...ada, clientAddress: "127.0.0.10" });
  } finally {
    await fixture.cleanup();
  }
}

Deno.test("40 concurrent wrong guesses from one address reach scrypt only as often as allowed (memory)", async () => {
  await concurrentGuesses(undefined);
});

Deno.test("40 concurrent wrong guesses from one address reach scrypt only as often as allowed (PostgreSQL)", async () => {
  await using db = await (await postgresForTests()).createDatabase({ label: "user_guesses" });
  const sql = connectPostgres({ url: db.url, applicationName: "guesses-test" });
  try {
    await migrate(sql, await readMigrations(new URL("../store/migrations/", import.meta.url)));
    await concurrentGuesses(new PostgresUserStore(sql));
  } finally {
    await sql.end({ timeout: 5 });
  }
});

Deno.test("admin seeding never promotes an account someone else registered with the admin email", async () => {
  const fixture = await createAccountsFixture();
  try {
    const squatter = await fixture.accounts.register({
      email: "Boss@example.com",
      password: "the squatter's secret",
      displayName: "Not the boss",
    });
    for (const password of ["a long admin secret", "the squatter's secret"]) {
      const refused = await fixture.accounts.ensureAdmin({ email: "boss@example.com", password }).then(
        () => undefined,
        (error) => error,
      );
      assert.ok(refused instanceof DomainError);
      assert.equal(refused.reason, "ADMIN_EMAIL_TAKEN");
      assert.ok(!refused.message.includes("boss@example.com"), "no email in the message (it is logged)");
    }
    assert.equal((await fixture.accounts.profile(squatter.id)).role, "customer");
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("admin seeding creates the admin once, even from instances starting together, and keeps it", async () => {
  const fixture = await createAccountsFixture();
  try {
    const admin = { email: "boss@example.com", password: "a long admin secret" };
    const seeds = await Promise.all([1, 2, 3].map(() => fixture.accounts.ensureAdmin(admin)));
    assert.equal(new Set(seeds.map((seed) => seed.user.id)).size, 1);
    assert.deepEqual(seeds.map((seed) => seed.outcome).sort(), ["created", "existing", "existing"]);
    assert.equal(seeds[0]?.user.role, "admin");
    // The admin changes the password; the next start leaves the account alone.
    const id = seeds[0]?.user.id ?? "";
    await fixture.accounts.changePassword(id, admin.password, "a newer admin secret");
    assert.equal((await fixture.accounts.ensureAdmin(admin)).outcome, "existing_other_password");
    await fixture.accounts.login({ email: admin.email, password: "a newer admin secret" });
  } finally {
    await fixture.cleanup();
  }
});
