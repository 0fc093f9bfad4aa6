import {
  admitAttempt,
  type AttemptDecision,
  type AttemptSchedule,
  type AttemptState,
  releaseAttempt,
} from "../domain/attempt_schedule.ts";
import { emailTaken } from "../domain/errors.ts";
import type {
  LoginFailures,
  NextRefreshToken,
  PurgeCounts,
  PurgeCutoffs,
  RefreshTokenRecord,
  RotateOutcome,
  UserCursor,
  UserPage,
  UserStore,
} from "../domain/ports.ts";
import { emailKey, type Role, type User } from "../domain/user.ts";

interface StoredToken extends RefreshTokenRecord {
  useTime: Date | undefined;
  revokeTime: Date | undefined;
}

function earlier(a: Date, b: Date): Date {
  return a < b ? a : b;
}

function byRegistration(a: User, b: User): number {
  return a.createTime.getTime() - b.createTime.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The account store in memory, for fast handler tests. Behaves as the PostgreSQL store does: the same
 * contract suite runs on both.
 *
 * @example
 * ```ts
 * const store = new MemoryUserStore();
 * ```
 */
export class MemoryUserStore implements UserStore {
  #users = new Map<string, { user: User; passwordHash: string }>();
  #tokens = new Map<string, StoredToken>();
  #failures = new Map<string, Date[]>();
  #attempts = new Map<string, AttemptState>();

  createUser(user: User, passwordHash: string): Promise<User> {
    const key = emailKey(user.email);
    for (const existing of this.#users.values()) {
      if (emailKey(existing.user.email) === key) return Promise.reject(emailTaken());
    }
    this.#users.set(user.id, { user: { ...user }, passwordHash });
    return Promise.resolve({ ...user });
  }

  findUser(id: string): Promise<User | undefined> {
    const found = this.#users.get(id);
    return Promise.resolve(found ? { ...found.user } : undefined);
  }

  findCredentials(key: string): Promise<{ user: User; passwordHash: string } | undefined> {
    for (const entry of this.#users.values()) {
      if (emailKey(entry.user.email) === key) {
        return Promise.resolve({ user: { ...entry.user }, passwordHash: entry.passwordHash });
      }
    }
    return Promise.resolve(undefined);
  }

  passwordHash(userId: string): Promise<string | undefined> {
    return Promise.resolve(this.#users.get(userId)?.passwordHash);
  }

  updateDisplayName(id: string, displayName: string, now: Date): Promise<User | undefined> {
    return Promise.resolve(this.#change(id, (user) => ({ ...user, displayName, updateTime: now })));
  }

  setPasswordHash(id: string, passwordHash: string, now: Date): Promise<void> {
    const entry = this.#users.get(id);
    if (entry) this.#users.set(id, { user: { ...entry.user, updateTime: now }, passwordHash });
    return Promise.resolve();
  }

  setRole(id: string, role: Role, now: Date): Promise<User | undefined> {
    return Promise.resolve(this.#change(id, (user) => ({ ...user, role, updateTime: now })));
  }

  listUsers(pageSize: number, after: UserCursor | undefined): Promise<UserPage> {
    const sorted = [...this.#users.values()].map((entry) => entry.user).sort(byRegistration);
    const rest = after
      ? sorted.filter((user) =>
        byRegistration(user, { ...user, createTime: after.createTime, id: after.id }) > 0
      )
      : sorted;
    const users = rest.slice(0, pageSize).map((user) => ({ ...user }));
    const last = users[users.length - 1];
    return Promise.resolve({
      users,
      next: rest.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    });
  }

  saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    this.#tokens.set(token.tokenHash, {
      ...token,
      expireTime: earlier(token.expireTime, token.familyExpireTime),
      useTime: undefined,
      revokeTime: undefined,
    });
    return Promise.resolve();
  }

  rotateRefreshToken(tokenHash: string, next: NextRefreshToken, now: Date): Promise<RotateOutcome> {
    const token = this.#tokens.get(tokenHash);
    if (!token || token.revokeTime || token.expireTime <= now) return Promise.resolve({ kind: "invalid" });
    if (token.useTime) {
      this.#revokeFamily(token.familyId, now);
      return Promise.resolve({ kind: "reused", userId: token.userId });
    }
    token.useTime = now;
    this.#tokens.set(next.tokenHash, {
      ...next,
      expireTime: earlier(next.expireTime, token.familyExpireTime),
      familyExpireTime: token.familyExpireTime,
      userId: token.userId,
      familyId: token.familyId,
      useTime: undefined,
      revokeTime: undefined,
    });
    return Promise.resolve({ kind: "rotated", userId: token.userId });
  }

  revokeRefreshTokenFamily(tokenHash: string, now: Date): Promise<void> {
    const token = this.#tokens.get(tokenHash);
    if (token) this.#revokeFamily(token.familyId, now);
    return Promise.resolve();
  }

  revokeUserRefreshTokens(userId: string, now: Date): Promise<void> {
    for (const token of this.#tokens.values()) {
      if (token.userId === userId) token.revokeTime ??= now;
    }
    return Promise.resolve();
  }

  recordLoginFailure(key: string, now: Date): Promise<void> {
    this.#failures.set(key, [...(this.#failures.get(key) ?? []), now]);
    return Promise.resolve();
  }

  loginFailures(key: string, since: Date): Promise<LoginFailures> {
    const recent = (this.#failures.get(key) ?? []).filter((time) => time > since);
    return Promise.resolve({ count: recent.length, oldest: recent[0] });
  }

  takeAttempt(key: string, schedule: AttemptSchedule, now: Date): Promise<AttemptDecision> {
    // One synchronous step: nothing else runs between the read and the write.
    const decision = admitAttempt(schedule, this.#attempts.get(key), now);
    if (decision.admitted) this.#attempts.set(key, decision.state);
    return Promise.resolve(decision);
  }

  releaseAttempt(key: string): Promise<void> {
    const state = this.#attempts.get(key);
    if (state) this.#attempts.set(key, releaseAttempt(state));
    return Promise.resolve();
  }

  clearAttempts(key: string): Promise<void> {
    this.#attempts.delete(key);
    return Promise.resolve();
  }

  purge(before: PurgeCutoffs): Promise<PurgeCounts> {
    const counts = { loginFailures: 0, attempts: 0, refreshTokens: 0 };
    for (const [key, times] of this.#failures) {
      const kept = times.filter((time) => time >= before.loginFailures);
      counts.loginFailures += times.length - kept.length;
      if (kept.length > 0) this.#failures.set(key, kept);
      else this.#failures.delete(key);
    }
    for (const [key, state] of this.#attempts) {
      if (state.lastTime < before.attempts) {
        this.#attempts.delete(key);
        counts.attempts++;
      }
    }
    for (const [hash, token] of this.#tokens) {
      if (token.expireTime < before.refreshTokens) {
        this.#tokens.delete(hash);
        counts.refreshTokens++;
      }
    }
    return Promise.resolve(counts);
  }

  #change(id: string, update: (user: User) => User): User | undefined {
    const entry = this.#users.get(id);
    if (!entry) return undefined;
    const user = update(entry.user);
    this.#users.set(id, { user, passwordHash: entry.passwordHash });
    return { ...user };
  }

  #revokeFamily(familyId: string, now: Date): void {
    for (const token of this.#tokens.values()) {
      if (token.familyId === familyId) token.revokeTime ??= now;
    }
  }
}
