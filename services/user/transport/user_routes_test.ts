import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { BadRequestSchema, RetryInfoSchema } from "@shop/proto/google";
import { AuthService, Role, UserService } from "@shop/proto/user";
import { type AccountsFixture, createAccountsFixture } from "../testdata/fixtures.ts";
import { userRoutes } from "./user_routes.ts";
import { failure } from "@shop/platform/testing";

interface Clients {
  users: ReturnType<typeof createClient<typeof UserService>>;
  auth: ReturnType<typeof createClient<typeof AuthService>>;
  fixture: AccountsFixture;
}

async function withService(body: (clients: Clients) => Promise<void>): Promise<void> {
  const fixture = await createAccountsFixture();
  const transport = inMemoryTransport(userRoutes(fixture.accounts));
  try {
    await body({
      users: createClient(UserService, transport),
      auth: createClient(AuthService, transport),
      fixture,
    });
  } finally {
    await fixture.cleanup();
  }
}

/** Call options that make the call come from the gateway on behalf of a user. */
function as(id: string, role: "customer" | "admin" = "customer") {
  return { headers: gatewayClaims({ sub: id, role }) };
}

const ada = { email: "ada@example.com", password: "correct horse battery", displayName: "Ada" };

Deno.test("RegisterUser creates a customer account and never returns a secret", async () => {
  await withService(async ({ users }) => {
    const { user } = await users.registerUser(ada);
    assert.equal(user?.email, "ada@example.com");
    assert.equal(user?.role, Role.CUSTOMER);
    assert.ok(user?.createTime);
    assert.ok(
      !JSON.stringify(user, (_k, v) => typeof v === "bigint" ? String(v) : v).includes("correct horse"),
    );
  });
});

Deno.test("concurrent registrations of one email create exactly one account", async () => {
  await withService(async ({ users, fixture }) => {
    const results = await Promise.allSettled(
      Array.from(
        { length: 10 },
        (_, i) => users.registerUser({ ...ada, email: i % 2 ? "ADA@example.com" : ada.email }),
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const result of results) {
      if (result.status === "rejected") {
        assert.equal(ConnectError.from(result.reason).code, Code.AlreadyExists);
      }
    }
    assert.equal((await fixture.store.listUsers(100, undefined)).users.length, 1);
  });
});

Deno.test("bad registration input is INVALID_ARGUMENT naming the field, and nothing is written", async () => {
  await withService(async ({ users, fixture }) => {
    const cases: Array<[Parameters<typeof users.registerUser>[0], string]> = [
      [{ ...ada, email: "not-an-email" }, "email"],
      [{ ...ada, email: "" }, "email"],
      [{ ...ada, password: "short" }, "password"],
      [{ ...ada, password: "password123" }, "password"],
      [{ ...ada, password: "ada@example.com" }, "password"],
      [{ ...ada, displayName: "" }, "display_name"],
      [{ ...ada, displayName: "x".repeat(81) }, "display_name"],
      [{ ...ada, email: `${"a".repeat(250)}@example.com` }, "email"],
      [{ ...ada, password: "p".repeat(129) }, "password"],
    ];
    for (const [input, field] of cases) {
      const error = await failure(users.registerUser(input));
      assert.equal(error.code, Code.InvalidArgument, `${field}: ${error.message}`);
      const fields = error.findDetails(BadRequestSchema).flatMap((d) =>
        d.fieldViolations.map((v) => v.field)
      );
      assert.ok(fields.includes(field), `expected ${field} among ${fields.join(", ")}`);
    }
    assert.equal((await fixture.store.listUsers(100, undefined)).users.length, 0);
  });
});

Deno.test("wrong password and unknown email get the same answer", async () => {
  await withService(async ({ users, auth }) => {
    await users.registerUser(ada);
    const wrongPassword = await failure(auth.login({ email: ada.email, password: "not the password" }));
    const unknownEmail = await failure(auth.login({ email: "nobody@example.com", password: ada.password }));
    assert.equal(wrongPassword.code, Code.Unauthenticated);
    assert.deepEqual(
      [unknownEmail.code, unknownEmail.rawMessage, unknownEmail.details.length],
      [wrongPassword.code, wrongPassword.rawMessage, wrongPassword.details.length],
    );
  });
});

Deno.test("login accepts the email in any case and issues a bearer session", async () => {
  await withService(async ({ users, auth }) => {
    await users.registerUser(ada);
    const session = await auth.login({ email: "ADA@Example.com", password: ada.password });
    assert.equal(session.tokenType, "Bearer");
    assert.equal(session.expiresIn, 60);
    assert.equal(session.accessToken.split(".").length, 3);
    assert.ok(session.refreshToken.length >= 40);
  });
});

Deno.test("five failed sign-ins lock the account with a retry hint, even for the right password", async () => {
  await withService(async ({ users, auth, fixture }) => {
    await users.registerUser(ada);
    for (let i = 0; i < 5; i++) {
      await failure(auth.login({ email: ada.email, password: `wrong-${i}-password` }));
    }
    const locked = await failure(auth.login(ada));
    assert.equal(locked.code, Code.ResourceExhausted);
    const retry = locked.findDetails(RetryInfoSchema)[0]?.retryDelay;
    assert.ok(
      retry && retry.seconds > 0n && retry.seconds <= 900n,
      "a retry hint within the 15 minute window",
    );
    // Another account is not affected.
    await users.registerUser({ ...ada, email: "grace@example.com" });
    await auth.login({ ...ada, email: "grace@example.com" });
    // The window passes and the right password works again.
    fixture.advance(15 * 60_000 + 1_000);
    await auth.login(ada);
  });
});

Deno.test("a refresh token works once; its reuse revokes the family", async () => {
  await withService(async ({ users, auth }) => {
    await users.registerUser(ada);
    const first = await auth.login(ada);
    const second = await auth.refreshToken({ refreshToken: first.refreshToken });
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal(
      (await failure(auth.refreshToken({ refreshToken: first.refreshToken }))).code,
      Code.Unauthenticated,
    );
    // The reuse killed the family: the token issued in the rotation is dead too.
    assert.equal(
      (await failure(auth.refreshToken({ refreshToken: second.refreshToken }))).code,
      Code.Unauthenticated,
    );
    // A separate sign-in is a separate family and still works.
    const other = await auth.login(ada);
    await auth.refreshToken({ refreshToken: other.refreshToken });
  });
});

Deno.test("logout revokes the refresh token", async () => {
  await withService(async ({ users, auth }) => {
    await users.registerUser(ada);
    const session = await auth.login(ada);
    await auth.logout({ refreshToken: session.refreshToken });
    assert.equal(
      (await failure(auth.refreshToken({ refreshToken: session.refreshToken }))).code,
      Code.Unauthenticated,
    );
  });
});

Deno.test("a user reads and renames their own profile through an update mask", async () => {
  await withService(async ({ users }) => {
    const { user } = await users.registerUser(ada);
    const id = user?.id ?? "";
    assert.equal((await users.getCurrentUser({}, as(id))).user?.displayName, "Ada");
    const renamed = await users.updateCurrentUser(
      { user: { displayName: "  Ada Lovelace " }, updateMask: { paths: ["display_name"] } },
      as(id),
    );
    assert.equal(renamed.user?.displayName, "Ada Lovelace");
    const badMask = await failure(
      users.updateCurrentUser({ user: { email: "x@example.com" }, updateMask: { paths: ["email"] } }, as(id)),
    );
    assert.equal(badMask.code, Code.InvalidArgument);
    assert.equal(badMask.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field, "update_mask");
    assert.equal((await users.getCurrentUser({}, as(id))).user?.email, "ada@example.com");
  });
});

Deno.test("profile calls without a signed-in user are UNAUTHENTICATED", async () => {
  await withService(async ({ users }) => {
    assert.equal((await failure(users.getCurrentUser({}))).code, Code.Unauthenticated);
  });
});

Deno.test("changing the password checks the current one and signs out every session", async () => {
  await withService(async ({ users, auth }) => {
    const { user } = await users.registerUser(ada);
    const id = user?.id ?? "";
    const session = await auth.login(ada);
    const wrong = await failure(
      users.changePassword({ currentPassword: "not it at all", newPassword: "a brand new secret" }, as(id)),
    );
    assert.equal(wrong.code, Code.InvalidArgument);
    await users.changePassword({ currentPassword: ada.password, newPassword: "a brand new secret" }, as(id));
    assert.equal(
      (await failure(auth.refreshToken({ refreshToken: session.refreshToken }))).code,
      Code.Unauthenticated,
    );
    assert.equal((await failure(auth.login(ada))).code, Code.Unauthenticated);
    await auth.login({ email: ada.email, password: "a brand new secret" });
  });
});

Deno.test("only admins list users and change roles", async () => {
  await withService(async ({ users, fixture }) => {
    const admin = await fixture.accounts.ensureAdmin({
      email: "root@example.com",
      password: "root password 1",
    });
    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push((await users.registerUser({ ...ada, email: `u${i}@example.com` })).user?.id);
    }
    const customerId = created[0] ?? "";
    assert.equal((await failure(users.listUsers({}, as(customerId)))).code, Code.PermissionDenied);
    assert.equal(
      (await failure(users.setUserRole({ id: customerId, role: Role.ADMIN }, as(customerId)))).code,
      Code.PermissionDenied,
    );

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await users.listUsers({ pageSize: 2, pageToken }, as(admin.id, "admin"));
      seen.push(...page.users.map((u) => u.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.deepEqual(seen, [admin.id, ...created]);
    assert.equal(
      (await failure(users.listUsers({ pageToken: "forged" }, as(admin.id, "admin")))).code,
      Code.InvalidArgument,
    );

    const promoted = await users.setUserRole({ id: customerId, role: Role.ADMIN }, as(admin.id, "admin"));
    assert.equal(promoted.user?.role, Role.ADMIN);
  });
});
