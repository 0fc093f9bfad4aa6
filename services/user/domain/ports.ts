/**
 * What the account rules need from the outside world, owned here so that adapters depend on the
 * domain and never the other way round.
 *
 * @module
 */
import type { AttemptDecision, AttemptSchedule } from "./attempt_schedule.ts";
import type { Role, User } from "./user.ts";

/** A refresh token as stored: only its hash, never the token itself. */
export interface RefreshTokenRecord {
  /** SHA-256 of the opaque token, hex. */
  tokenHash: string;
  userId: string;
  /** Every token rotated from one login shares a family; reuse of a rotated token revokes it whole. */
  familyId: string;
  expireTime: Date;
  /** When the family ends whatever its rotations: no token of it lives past this. */
  familyExpireTime: Date;
  createTime: Date;
}

/**
 * The successor of a rotated token; it inherits the user and the family, and expires at `expireTime` or
 * when its family ends, whichever comes first.
 */
export type NextRefreshToken = Pick<RefreshTokenRecord, "tokenHash" | "expireTime" | "createTime">;

/** What rotating a refresh token found. */
export type RotateOutcome =
  /** The token was live: it is now used, and its successor is stored in its family. */
  | { kind: "rotated"; userId: string }
  /** The token had been used already: its whole family is now revoked. */
  | { kind: "reused"; userId: string }
  /** Unknown, revoked or expired. */
  | { kind: "invalid" };

/** Failed sign-ins of one account within a window. */
export interface LoginFailures {
  count: number;
  /** The oldest failure counted, to say when the window frees up. */
  oldest: Date | undefined;
}

/** One page of users, in the order they registered. */
export interface UserPage {
  users: User[];
  /** Where the next page starts, or undefined on the last page. */
  next: UserCursor | undefined;
}

/** A position in the registration order: after this user. */
export interface UserCursor {
  createTime: Date;
  id: string;
}

/** Persistence of accounts, refresh tokens and sign-in failures. */
export interface UserStore {
  /** Creates an account; a taken email (by {@linkcode emailKey}) throws ALREADY_EXISTS. */
  createUser(user: User, passwordHash: string): Promise<User>;
  findUser(id: string): Promise<User | undefined>;
  /** The account of an email key, with its password hash, for sign-in. */
  findCredentials(emailKey: string): Promise<{ user: User; passwordHash: string } | undefined>;
  passwordHash(userId: string): Promise<string | undefined>;
  updateDisplayName(id: string, displayName: string, now: Date): Promise<User | undefined>;
  setPasswordHash(id: string, passwordHash: string, now: Date): Promise<void>;
  setRole(id: string, role: Role, now: Date): Promise<User | undefined>;
  listUsers(pageSize: number, after: UserCursor | undefined): Promise<UserPage>;

  saveRefreshToken(token: RefreshTokenRecord): Promise<void>;
  /**
   * Atomically uses a live token and stores its successor in the same family, for the same user; a used
   * token revokes its family instead. Of two concurrent rotations of one token exactly one is `rotated`.
   */
  rotateRefreshToken(tokenHash: string, next: NextRefreshToken, now: Date): Promise<RotateOutcome>;
  /** Revokes the family of a token (sign-out); unknown tokens are ignored. */
  revokeRefreshTokenFamily(tokenHash: string, now: Date): Promise<void>;
  /** Revokes every refresh token of a user (after a password change). */
  revokeUserRefreshTokens(userId: string, now: Date): Promise<void>;

  /** Counts a failed sign-in of a key (an account). */
  recordLoginFailure(key: string, now: Date): Promise<void>;
  loginFailures(key: string, since: Date): Promise<LoginFailures>;

  /**
   * Decides one attempt of a throttle key with `admitAttempt` (`attempt_schedule.ts`) and keeps the new
   * state, atomically: of any number of concurrent calls, no more are admitted than the schedule allows.
   */
  takeAttempt(key: string, schedule: AttemptSchedule, now: Date): Promise<AttemptDecision>;
  /** Takes back one admitted attempt of a key (`releaseAttempt`); unknown keys are ignored. */
  releaseAttempt(key: string): Promise<void>;
  /** Forgets every attempt of a key. */
  clearAttempts(key: string): Promise<void>;

  /** Deletes what no rule reads any more; says how many rows of each kind went. */
  purge(before: PurgeCutoffs): Promise<PurgeCounts>;
}

/** What {@linkcode UserStore.purge} deletes: rows older than these times. */
export interface PurgeCutoffs {
  /** Failed sign-ins that happened before this. */
  loginFailures: Date;
  /** Attempt states whose last attempt was before this (they would start over anyway). */
  attempts: Date;
  /** Refresh tokens that expired before this (an expired token is refused whatever its history). */
  refreshTokens: Date;
}

/** How many rows {@linkcode UserStore.purge} deleted. */
export interface PurgeCounts {
  loginFailures: number;
  attempts: number;
  refreshTokens: number;
}

/** Hashes passwords with a memory-hard KDF. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant-time comparison against a stored hash. */
  verify(password: string, passwordHash: string): Promise<boolean>;
  /** True when the hash was made with weaker parameters than the current ones. */
  needsRehash(passwordHash: string): boolean;
  /** A hash of a random password, to spend the same time on unknown emails as on real ones. */
  readonly decoyHash: string;
}

/** Issues signed access tokens. */
export interface AccessTokenIssuer {
  issue(user: { id: string; role: Role }): Promise<{ token: string; expiresInSeconds: number }>;
}

/** Makes and hashes opaque refresh tokens. */
export interface RefreshTokenMinter {
  mint(): { token: string; tokenHash: string };
  hashOf(token: string): string;
}
