/**
 * The account rules: registration, sign-in with throttling, refresh-token rotation, profiles and roles.
 * Everything here is plain logic over the ports; no driver, no transport.
 *
 * @module
 */
import { DomainError, invalidArgument, notFound } from "@shop/platform/errors";
import type { AttemptSchedule } from "./attempt_schedule.ts";
import { adminEmailTaken, invalidCredentials, invalidRefreshToken, signInThrottled } from "./errors.ts";
import type {
  AccessTokenIssuer,
  PasswordHasher,
  PurgeCounts,
  RefreshTokenMinter,
  UserCursor,
  UserPage,
  UserStore,
} from "./ports.ts";
import { checkDisplayName, checkPassword, emailKey, type Role, type User } from "./user.ts";

/** The tokens of a signed-in session. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresInSeconds: number;
}

/**
 * How password guessing is slowed (sign-in, and the current password of a password change). Nothing
 * here ever refuses the first attempt from an address that has not guessed at that account, so an
 * attacker cannot lock the owner out; waits only slow the guesser down.
 */
export interface ThrottlePolicy {
  /** Attempts per account and client address before waits begin (3). */
  freeAttempts: number;
  /** The first wait, in ms; each further attempt doubles it (1 s). */
  firstWaitMs: number;
  /** The longest wait, in ms (15 minutes). */
  maxWaitMs: number;
  /**
   * Failed sign-ins of one account, from all addresses, within `windowMs`, past which each address gets
   * a single attempt at it before its waits begin (100). It slows a guesser with many addresses; it
   * never blocks.
   */
  accountCeiling: number;
  /** Attempts from one address over all accounts before that address's waits begin (100). */
  addressCeiling: number;
  /** How long a key stays quiet before it starts over, and the window of `accountCeiling`, in ms (15 min). */
  windowMs: number;
}

/** The default {@linkcode ThrottlePolicy}. */
export const defaultThrottlePolicy: ThrottlePolicy = {
  freeAttempts: 3,
  firstWaitMs: 1_000,
  maxWaitMs: 15 * 60_000,
  accountCeiling: 100,
  addressCeiling: 100,
  windowMs: 15 * 60_000,
};

/**
 * What seeding the admin found: `created` it; an `existing` admin with the configured password; or an
 * existing admin whose password has changed since (`existing_other_password`; left as it is).
 */
export interface AdminSeed {
  user: User;
  outcome: "created" | "existing" | "existing_other_password";
}

/** How long a refresh-token family lives at most unless set: 90 days. */
export const defaultRefreshFamilyLifetimeMs = 90 * 24 * 3_600_000;

/** What happened at sign-in, for the operator's counters (the composition root turns it into metrics). */
export type AccountEvent =
  /** A sign-in was refused: wrong email or password, or too many failures already. */
  | { type: "login_failed"; reason: "invalid_credentials" | "throttled" }
  /** A session's access and refresh tokens were issued, at sign-in or by a refresh. */
  | { type: "session_issued"; grant: "login" | "refresh" };

/** What {@linkcode Accounts} is built from. */
export interface AccountsDeps {
  store: UserStore;
  hasher: PasswordHasher;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenMinter;
  /** How long a refresh token lives unused, in ms; each rotation starts it again. */
  refreshTokenTtlMs: number;
  /** How long a sign-in's refresh-token family lives at most, rotations or not, in ms (90 days). */
  refreshFamilyLifetimeMs?: number;
  throttle?: Partial<ThrottlePolicy>;
  /** Told of every {@linkcode AccountEvent}; must not throw (metrics only). */
  onEvent?: (event: AccountEvent) => void;
  now?: () => Date;
  newId?: () => string;
}

/**
 * The account use cases.
 *
 * @example
 * ```ts
 * declare const deps: AccountsDeps;
 * const accounts = new Accounts(deps);
 * const user = await accounts.register({ email: "ada@example.com", password: "correct horse", displayName: "Ada" });
 * ```
 */
export class Accounts {
  #deps: AccountsDeps;
  #throttle: ThrottlePolicy;
  #now: () => Date;
  #newId: () => string;

  /** Creates the use cases over their ports. */
  constructor(deps: AccountsDeps) {
    this.#deps = deps;
    this.#throttle = { ...defaultThrottlePolicy, ...deps.throttle };
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
  }

  /** Creates a customer account. */
  async register(input: { email: string; password: string; displayName: string }): Promise<User> {
    return await this.#create(input, "customer");
  }

  /**
   * Seeds the first admin from configuration: creates the account as an admin, or finds it already an
   * admin (whatever its password now: an admin may have changed it since). An email that belongs to a
   * customer is never promoted, since that would hand the shop to whoever registered it first: that is
   * FAILED_PRECONDITION `ADMIN_EMAIL_TAKEN`, and the service refuses to start. Safe to run from every
   * instance at once: the account is created as an admin in one write.
   */
  async ensureAdmin(input: { email: string; password: string }): Promise<AdminSeed> {
    const existing = await this.#deps.store.findCredentials(emailKey(input.email));
    if (existing) {
      if (existing.user.role !== "admin") throw adminEmailTaken(existing.user.id);
      const samePassword = await this.#deps.hasher.verify(input.password, existing.passwordHash);
      return { user: existing.user, outcome: samePassword ? "existing" : "existing_other_password" };
    }
    try {
      return {
        user: await this.#create({ ...input, displayName: "Administrator" }, "admin"),
        outcome: "created",
      };
    } catch (error) {
      // Another instance seeded it first.
      if (error instanceof DomainError && error.kind === "already_exists") {
        return await this.ensureAdmin(input);
      }
      throw error;
    }
  }

  async #create(input: { email: string; password: string; displayName: string }, role: Role): Promise<User> {
    const email = input.email.trim();
    checkPassword("password", input.password, email);
    const displayName = checkDisplayName("display_name", input.displayName);
    const now = this.#now();
    const user: User = { id: this.#newId(), email, displayName, role, createTime: now, updateTime: now };
    return await this.#deps.store.createUser(user, await this.#deps.hasher.hash(input.password));
  }

  /**
   * Signs in. Unknown email and wrong password get the same error after the same work (a decoy hash is
   * verified for unknown emails). Guessing is slowed per account and client address with growing waits
   * (see {@linkcode ThrottlePolicy}); an attempt is counted before the password is checked, atomically,
   * so concurrent guesses cannot all reach the hash. A refused attempt is RESOURCE_EXHAUSTED with a retry
   * hint, whatever the password.
   */
  async login(
    input: { email: string; password: string; clientAddress?: string | undefined },
  ): Promise<Session> {
    const key = emailKey(input.email);
    const accountKey = `account:${key}`;
    const now = this.#now();
    const { count } = await this.#deps.store.loginFailures(
      accountKey,
      new Date(now.getTime() - this.#throttle.windowMs),
    );
    // Past the account's ceiling each address gets one attempt, then waits: slower, never locked.
    const free = count >= this.#throttle.accountCeiling ? 1 : this.#throttle.freeAttempts;
    const gates = await this.#enterGates([
      { key: `pair:${key}|${input.clientAddress ?? ""}`, schedule: this.#schedule(free), onSuccess: "clear" },
      ...(input.clientAddress
        ? [{
          key: `address:${input.clientAddress}`,
          schedule: this.#schedule(this.#throttle.addressCeiling),
          onSuccess: "release" as const,
        }]
        : []),
    ], now);
    const credentials = await this.#deps.store.findCredentials(key);
    const matches = await this.#deps.hasher.verify(
      input.password,
      credentials?.passwordHash ?? this.#deps.hasher.decoyHash,
    );
    if (!credentials || !matches) {
      await this.#deps.store.recordLoginFailure(accountKey, this.#now());
      this.#deps.onEvent?.({ type: "login_failed", reason: "invalid_credentials" });
      throw invalidCredentials();
    }
    await gates.succeeded();
    if (this.#deps.hasher.needsRehash(credentials.passwordHash)) {
      await this.#deps.store.setPasswordHash(
        credentials.user.id,
        await this.#deps.hasher.hash(input.password),
        this.#now(),
      );
    }
    return await this.#startSession(credentials.user, this.#newId());
  }

  /** Exchanges a live refresh token for a new session; reuse of a rotated token revokes its family. */
  async refresh(refreshToken: string): Promise<Session> {
    const now = this.#now();
    const next = this.#deps.refreshTokens.mint();
    const presented = this.#deps.refreshTokens.hashOf(refreshToken);
    const outcome = await this.#deps.store.rotateRefreshToken(presented, {
      tokenHash: next.tokenHash,
      expireTime: new Date(now.getTime() + this.#deps.refreshTokenTtlMs),
      createTime: now,
    }, now);
    if (outcome.kind !== "rotated") throw invalidRefreshToken();
    const user = await this.#deps.store.findUser(outcome.userId);
    if (!user) throw invalidRefreshToken();
    const access = await this.#deps.accessTokens.issue(user);
    this.#deps.onEvent?.({ type: "session_issued", grant: "refresh" });
    return { accessToken: access.token, refreshToken: next.token, expiresInSeconds: access.expiresInSeconds };
  }

  /** Signs a session out: its refresh token family stops working. Unknown tokens are ignored. */
  async logout(refreshToken: string): Promise<void> {
    await this.#deps.store.revokeRefreshTokenFamily(
      this.#deps.refreshTokens.hashOf(refreshToken),
      this.#now(),
    );
  }

  /** A user's own profile. */
  async profile(userId: string): Promise<User> {
    const user = await this.#deps.store.findUser(userId);
    if (!user) throw notFound("user", userId);
    return user;
  }

  /** Changes the fields of a profile named in `paths` (only `display_name` may change). */
  async updateProfile(
    userId: string,
    paths: readonly string[],
    values: { displayName: string },
  ): Promise<User> {
    if (paths.length === 0) {
      throw invalidArgument([{ field: "update_mask", description: "name at least one field to change" }]);
    }
    const unknown = paths.filter((path) => path !== "display_name");
    if (unknown.length > 0) {
      throw invalidArgument([{
        field: "update_mask",
        description: `only display_name can be changed here, not ${unknown.join(", ")}`,
      }]);
    }
    const displayName = checkDisplayName("user.display_name", values.displayName);
    const user = await this.#deps.store.updateDisplayName(userId, displayName, this.#now());
    if (!user) throw notFound("user", userId);
    return user;
  }

  /**
   * Changes a password after checking the current one, and signs out every session. Wrong current
   * passwords are slowed as sign-ins are, per user and client address: someone holding a stolen access
   * token cannot guess the password at speed.
   */
  async changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
    clientAddress?: string,
  ): Promise<void> {
    const user = await this.profile(userId);
    const gates = await this.#enterGates([{
      key: `password:${userId}|${clientAddress ?? ""}`,
      schedule: this.#schedule(this.#throttle.freeAttempts),
      onSuccess: "clear",
    }], this.#now());
    const hash = await this.#deps.store.passwordHash(userId);
    if (!hash || !await this.#deps.hasher.verify(currentPassword, hash)) {
      throw new DomainError("invalid_argument", "INVALID_ARGUMENT", "current password is incorrect", {
        fields: [{ field: "current_password", description: "is incorrect" }],
      });
    }
    await gates.succeeded();
    checkPassword("new_password", newPassword, user.email);
    const now = this.#now();
    await this.#deps.store.setPasswordHash(userId, await this.#deps.hasher.hash(newPassword), now);
    await this.#deps.store.revokeUserRefreshTokens(userId, now);
  }

  /**
   * Deletes what no rule reads any more: failed sign-ins older than the window, throttle states that
   * would start over anyway, expired refresh tokens (refused whatever their history). Safe to run from
   * every instance at once.
   */
  async purgeExpired(): Promise<PurgeCounts> {
    const now = this.#now().getTime();
    return await this.#deps.store.purge({
      loginFailures: new Date(now - this.#throttle.windowMs),
      attempts: new Date(now - this.#throttle.maxWaitMs - this.#throttle.windowMs),
      refreshTokens: new Date(now),
    });
  }

  /** Every account, in registration order, paged. */
  async listUsers(pageSize: number, after: UserCursor | undefined): Promise<UserPage> {
    return await this.#deps.store.listUsers(pageSize, after);
  }

  /**
   * Checks that a caller whose token says admin is still an admin now: the user service's own admin
   * calls (listing users, setting roles) do not wait for a demoted admin's access token to expire.
   * PERMISSION_DENIED otherwise.
   */
  async requireCurrentAdmin(userId: string): Promise<User> {
    const user = await this.#deps.store.findUser(userId);
    if (user?.role !== "admin") {
      throw new DomainError("permission_denied", "PERMISSION_DENIED", "only admins may do this");
    }
    return user;
  }

  /** Makes a user a customer or an admin. */
  async setRole(userId: string, role: Role): Promise<User> {
    const user = await this.#deps.store.setRole(userId, role, this.#now());
    if (!user) throw notFound("user", userId);
    return user;
  }

  async #startSession(user: User, familyId: string): Promise<Session> {
    const now = this.#now();
    const refresh = this.#deps.refreshTokens.mint();
    await this.#deps.store.saveRefreshToken({
      tokenHash: refresh.tokenHash,
      userId: user.id,
      familyId,
      expireTime: new Date(now.getTime() + this.#deps.refreshTokenTtlMs),
      familyExpireTime: new Date(
        now.getTime() + (this.#deps.refreshFamilyLifetimeMs ?? defaultRefreshFamilyLifetimeMs),
      ),
      createTime: now,
    });
    const access = await this.#deps.accessTokens.issue(user);
    this.#deps.onEvent?.({ type: "session_issued", grant: "login" });
    return {
      accessToken: access.token,
      refreshToken: refresh.token,
      expiresInSeconds: access.expiresInSeconds,
    };
  }

  #schedule(free: number): AttemptSchedule {
    return {
      free,
      firstWaitMs: this.#throttle.firstWaitMs,
      maxWaitMs: this.#throttle.maxWaitMs,
      resetAfterMs: this.#throttle.windowMs,
    };
  }

  /**
   * Takes one attempt at each gate, in order; refused at one, gives back what the earlier ones took
   * (that attempt never reached the hash) and throws RESOURCE_EXHAUSTED with the time to wait.
   * `succeeded()` tells the gates the password was right: a gate marked `clear` forgets its attempts, one
   * marked `release` gives back this one.
   */
  async #enterGates(
    gates: { key: string; schedule: AttemptSchedule; onSuccess: "clear" | "release" }[],
    now: Date,
  ): Promise<{ succeeded(): Promise<void> }> {
    const entered: typeof gates = [];
    for (const gate of gates) {
      const decision = await this.#deps.store.takeAttempt(gate.key, gate.schedule, now);
      if (!decision.admitted) {
        for (const done of entered) await this.#deps.store.releaseAttempt(done.key);
        this.#deps.onEvent?.({ type: "login_failed", reason: "throttled" });
        throw signInThrottled(Math.max(1_000, decision.retryAt.getTime() - now.getTime()));
      }
      entered.push(gate);
    }
    return {
      succeeded: async () => {
        for (const gate of entered) {
          if (gate.onSuccess === "clear") await this.#deps.store.clearAttempts(gate.key);
          else await this.#deps.store.releaseAttempt(gate.key);
        }
      },
    };
  }
}
