import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { gatewayClaims, inMemoryTransport } from "@shop/platform/server";
import { BadRequestSchema, RetryInfoSchema } from "@shop/proto/google";
import { AuthService, CustomerContactService, Role, UserService } from "@shop/proto/user";
import { type AccountsFixture, createAccountsFixture } from "../testdata/fixtures.ts";
import { userAllowedPeers, userRoutes } from "./user_routes.ts";
import { failure } from "@shop/platform/testing";

interface Clients {
  users: ReturnType<typeof createClient<typeof UserService>>;
  auth: ReturnType<typeof createClient<typeof AuthService>>;
  fixture: AccountsFixture;
}

async function withService(
  body: (clients: Clients) => Promise<void>,
  overrides: Parameters<typeof createAccountsFixture>[0] = {},
): Promise<void> {
  const fixture = await createAccountsFixture(overrides);
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

/** Call options of a call the gateway forwards from a client at `address`. */
function from(address: string, extra: Record<string, string> = {}) {
  return { headers: { "x-envoy-external-address": address, ...extra } };
}

/** The retry hint of an error, in whole seconds rounded up (the clock moves on during the test). */
function retrySeconds(error: ConnectError): number {
  const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return delay ? Math.ceil(Number(delay.seconds) + delay.nanos / 1e9) : -1;
}

Deno.test("guesses from one address wait longer and longer; the owner elsewhere signs in at once", async () => {
  await withService(async ({ users, auth, fixture }) => {
    await users.registerUser(ada);
    const guess = (i: number) =>
      auth.login({ email: ada.email, password: `wrong-${i}-password` }, from("127.0.0.2"));
    for (let i = 0; i < 3; i++) assert.equal((await failure(guess(i))).code, Code.Unauthenticated);
    // The fourth attempt from that address waits a second, even with the right password.
    const slowed = await failure(auth.login(ada, from("127.0.0.2")));
    assert.equal(slowed.code, Code.ResourceExhausted);
    assert.equal(retrySeconds(slowed), 1);
    assert.match(slowed.rawMessage, /try again in 1 second/);
    // The owner, from another address, is not locked out.
    await auth.login(ada, from("127.0.0.10"));
    // Each further guess doubles the wait.
    fixture.advance(1_000);
    assert.equal((await failure(guess(3))).code, Code.Unauthenticated);
    assert.equal(retrySeconds(await failure(guess(4))), 2);
    fixture.advance(2_000);
    assert.equal((await failure(guess(5))).code, Code.Unauthenticated);
    assert.equal(retrySeconds(await failure(guess(6))), 4);
    // Unknown emails are slowed the same way, so the answers reveal nothing.
    for (let i = 0; i < 3; i++) {
      await failure(auth.login({ email: "nobody@example.com", password: "x".repeat(12) }, from("127.0.0.3")));
    }
    assert.equal(
      (await failure(
        auth.login({ email: "nobody@example.com", password: "x".repeat(12) }, from("127.0.0.3")),
      )).code,
      Code.ResourceExhausted,
    );
  });
});

Deno.test("a client address is believed only from the gateway", async () => {
  const fixture = await createAccountsFixture();
  const auth = createClient(AuthService, inMemoryTransport(userRoutes(fixture.accounts), { peer: "order" }));
  try {
    await fixture.accounts.register(ada);
    // Another peer naming a new address per guess is one client all the same.
    for (let i = 0; i < 3; i++) {
      await failure(
        auth.login({ email: ada.email, password: `wrong-${i}-password` }, from(`127.0.0.${i + 2}`)),
      );
    }
    assert.equal((await failure(auth.login(ada, from("127.0.0.9")))).code, Code.ResourceExhausted);
  } finally {
    await fixture.cleanup();
  }
});

Deno.test("past the account's ceiling each address gets one attempt, and the owner still signs in", async () => {
  await withService(async ({ users, auth }) => {
    await users.registerUser(ada);
    const guess = (address: string) =>
      failure(auth.login({ email: ada.email, password: "not the password" }, from(address)));
    for (const address of ["127.0.0.2", "127.0.0.3"]) {
      for (let i = 0; i < 3; i++) assert.equal((await guess(address)).code, Code.Unauthenticated);
    }
    // Six failures: a fresh address now gets one guess, then waits.
    assert.equal((await guess("127.0.0.4")).code, Code.Unauthenticated);
    assert.equal((await guess("127.0.0.4")).code, Code.ResourceExhausted);
    await auth.login(ada, from("127.0.0.10"));
  }, { throttle: { accountCeiling: 6 } });
});

Deno.test("signing in successfully gives back the attempt to the address's budget", async () => {
  await withService(async ({ users, auth }) => {
    await users.registerUser(ada);
    // An office behind one address signs in many times without being slowed...
    for (let i = 0; i < 5; i++) await auth.login(ada, from("127.0.0.2"));
    // ...but guessing at many accounts from one address is.
    const spray = (email: string) =>
      failure(auth.login({ email, password: "x".repeat(12) }, from("127.0.0.2")));
    await spray("a@example.com");
    await spray("b@example.com");
    assert.equal((await spray("c@example.com")).code, Code.ResourceExhausted);
  }, { throttle: { addressCeiling: 2 } });
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

Deno.test("wrong current passwords are slowed like sign-ins", async () => {
  await withService(async ({ users, fixture }) => {
    const { user } = await users.registerUser(ada);
    const id = user?.id ?? "";
    const change = (currentPassword: string) =>
      users.changePassword({ currentPassword, newPassword: "a brand new secret" }, {
        headers: { ...as(id).headers, "x-envoy-external-address": "127.0.0.2" },
      });
    for (let i = 0; i < 3; i++) {
      assert.equal((await failure(change(`wrong-${i}-password`))).code, Code.InvalidArgument);
    }
    const slowed = await failure(change(ada.password));
    assert.equal(slowed.code, Code.ResourceExhausted);
    assert.equal(retrySeconds(slowed), 1);
    fixture.advance(1_000);
    await change(ada.password);
  });
});

Deno.test("only admins list users and change roles", async () => {
  await withService(async ({ users, fixture }) => {
    const { user: admin } = await fixture.accounts.ensureAdmin({
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
    for (const pageToken of ["forged", "eyJ0IjoxLCJpZCI6IngifQ"]) {
      const error = await failure(users.listUsers({ pageToken }, as(admin.id, "admin")));
      assert.equal(error.code, Code.InvalidArgument, pageToken);
      assert.deepEqual(
        error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field)),
        ["page_token"],
      );
    }

    const promoted = await users.setUserRole({ id: customerId, role: Role.ADMIN }, as(admin.id, "admin"));
    assert.equal(promoted.user?.role, Role.ADMIN);
  });
});

Deno.test("a demoted admin's token no longer manages users, even before it expires", async () => {
  await withService(async ({ users, fixture }) => {
    const { user: root } = await fixture.accounts.ensureAdmin({
      email: "root@example.com",
      password: "root password 1",
    });
    const { user } = await users.registerUser(ada);
    const id = user?.id ?? "";
    await users.setUserRole({ id, role: Role.ADMIN }, as(root.id, "admin"));
    // Ada signs in as an admin, then is demoted; her token still says admin.
    const adaAsAdmin = as(id, "admin");
    assert.equal((await users.listUsers({}, adaAsAdmin)).users.length, 2);
    await users.setUserRole({ id, role: Role.CUSTOMER }, as(root.id, "admin"));
    assert.equal((await failure(users.listUsers({}, adaAsAdmin))).code, Code.PermissionDenied);
    assert.equal(
      (await failure(users.setUserRole({ id, role: Role.ADMIN }, adaAsAdmin))).code,
      Code.PermissionDenied,
    );
  });
});

Deno.test("GetCustomerContact tells the notification service a customer's address, and nobody else", async () => {
  await withService(async ({ users, fixture }) => {
    const { user } = await users.registerUser(ada);
    const contactFrom = (peer: string) =>
      createClient(
        CustomerContactService,
        inMemoryTransport(userRoutes(fixture.accounts), { peer, allowedPeers: userAllowedPeers }),
      );
    const contact = await contactFrom("notification").getCustomerContact({ userId: user?.id ?? "" });
    assert.deepEqual([contact.email, contact.displayName], ["ada@example.com", "Ada"]);
    for (const peer of ["gateway", "order", "payment", "product"]) {
      const refused = await contactFrom(peer).getCustomerContact({ userId: user?.id ?? "" }).then(
        () => assert.fail(`${peer} must not read a customer's address`),
        (error) => ConnectError.from(error),
      );
      assert.equal(refused.code, Code.PermissionDenied, peer);
    }
    const missing = await contactFrom("notification").getCustomerContact({ userId: crypto.randomUUID() })
      .then(() => assert.fail("no such account"), (error) => ConnectError.from(error));
    assert.equal(missing.code, Code.NotFound);
  });
});
