/**
 * The account rules: registration, sign-in with throttling, refresh-token rotation, profiles and roles.
 * Everything here is plain logic over the ports; no driver, no transport.
 *
 * @module
 */
import { DomainError, invalidArgument, notFound } from "@shop/platform/errors";
import { invalidCredentials, invalidRefreshToken, signInThrottled } from "./errors.ts";
import type {
  AccessTokenIssuer,
  PasswordHasher,
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

/** Limits on failed sign-ins. */
export interface ThrottlePolicy {
  /** Failures per account within the window before sign-in is refused (5 unless set). */
  perAccount: number;
  /** Failures per client address within the window (much higher: many people share an address). */
  perAddress: number;
  /** The window, in ms (15 minutes unless set). */
  windowMs: number;
}

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
  /** How long a refresh token lives, in ms. */
  refreshTokenTtlMs: number;
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
    this.#throttle = { perAccount: 5, perAddress: 100, windowMs: 15 * 60_000, ...deps.throttle };
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? (() => crypto.randomUUID());
  }

  /** Creates a customer account. */
  async register(input: { email: string; password: string; displayName: string }): Promise<User> {
    const email = input.email.trim();
    checkPassword("password", input.password, email);
    const displayName = checkDisplayName("display_name", input.displayName);
    const now = this.#now();
    const user: User = {
      id: this.#newId(),
      email,
      displayName,
      role: "customer",
      createTime: now,
      updateTime: now,
    };
    return await this.#deps.store.createUser(user, await this.#deps.hasher.hash(input.password));
  }

  /**
   * Creates the first admin from configuration, or makes an existing account with that email an admin.
   * Idempotent, so every instance may run it at start.
   */
  async ensureAdmin(input: { email: string; password: string }): Promise<User> {
    const existing = await this.#deps.store.findCredentials(emailKey(input.email));
    if (existing) {
      if (existing.user.role === "admin") return existing.user;
      return await this.#deps.store.setRole(existing.user.id, "admin", this.#now()) ?? existing.user;
    }
    try {
      const user = await this.register({ ...input, displayName: "Administrator" });
      return await this.#deps.store.setRole(user.id, "admin", this.#now()) ?? user;
    } catch (error) {
      // Another instance seeded it first.
      if (error instanceof DomainError && error.kind === "already_exists") {
        return await this.ensureAdmin(input);
      }
      throw error;
    }
  }

  /**
   * Signs in. Unknown email and wrong password get the same error after the same work (a decoy hash is
   * verified for unknown emails). Failures are counted per account and per client address; past the
   * limit, sign-in is refused with a retry hint until the window frees up, whatever the password.
   */
  async login(
    input: { email: string; password: string; clientAddress?: string | undefined },
  ): Promise<Session> {
    const key = emailKey(input.email);
    const throttleKeys = [`account:${key}`];
    try {
      await this.#refuseIfThrottled(`account:${key}`, this.#throttle.perAccount);
      if (input.clientAddress) {
        throttleKeys.push(`address:${input.clientAddress}`);
        await this.#refuseIfThrottled(`address:${input.clientAddress}`, this.#throttle.perAddress);
      }
    } catch (error) {
      this.#deps.onEvent?.({ type: "login_failed", reason: "throttled" });
      throw error;
    }
    const credentials = await this.#deps.store.findCredentials(key);
    const matches = await this.#deps.hasher.verify(
      input.password,
      credentials?.passwordHash ?? this.#deps.hasher.decoyHash,
    );
    if (!credentials || !matches) {
      const now = this.#now();
      for (const throttleKey of throttleKeys) await this.#deps.store.recordLoginFailure(throttleKey, now);
      this.#deps.onEvent?.({ type: "login_failed", reason: "invalid_credentials" });
      throw invalidCredentials();
    }
    await this.#deps.store.clearLoginFailures(`account:${key}`);
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

  /** Changes a password after checking the current one, and signs out every session. */
  async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.profile(userId);
    const hash = await this.#deps.store.passwordHash(userId);
    if (!hash || !await this.#deps.hasher.verify(currentPassword, hash)) {
      throw new DomainError("invalid_argument", "INVALID_ARGUMENT", "current password is incorrect", {
        fields: [{ field: "current_password", description: "is incorrect" }],
      });
    }
    checkPassword("new_password", newPassword, user.email);
    const now = this.#now();
    await this.#deps.store.setPasswordHash(userId, await this.#deps.hasher.hash(newPassword), now);
    await this.#deps.store.revokeUserRefreshTokens(userId, now);
  }

  /** Every account, in registration order, paged. */
  async listUsers(pageSize: number, after: UserCursor | undefined): Promise<UserPage> {
    return await this.#deps.store.listUsers(pageSize, after);
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

  async #refuseIfThrottled(key: string, limit: number): Promise<void> {
    const now = this.#now();
    const failures = await this.#deps.store.loginFailures(
      key,
      new Date(now.getTime() - this.#throttle.windowMs),
    );
    if (failures.count < limit) return;
    const freesAt = (failures.oldest?.getTime() ?? now.getTime()) + this.#throttle.windowMs;
    throw signInThrottled(Math.max(1_000, freesAt - now.getTime()));
  }
}
