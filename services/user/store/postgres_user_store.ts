import postgres, { type Sql } from "postgres";
import { admitAttempt, type AttemptDecision, type AttemptSchedule } from "../domain/attempt_schedule.ts";
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

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  role: Role;
  create_time: Date;
  update_time: Date;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    role: row.role,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

const userColumns = "id, email, display_name, role, create_time, update_time";

/**
 * The account store on PostgreSQL (schema in `migrations/`). The unique index on the email key is the
 * arbiter of duplicate registrations, and refresh-token rotation is one compare-and-set `UPDATE`, so
 * concurrent requests cannot both win.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * const store = new PostgresUserStore(postgres("postgres://127.0.0.1:5432/users"));
 * ```
 */
export class PostgresUserStore implements UserStore {
  #sql: Sql;

  /** Uses a pool the caller owns (and closes). */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async createUser(user: User, passwordHash: string): Promise<User> {
    try {
      const [row] = await this.#sql<UserRow[]>`
        INSERT INTO users (id, email, email_key, display_name, role, password_hash, create_time, update_time)
        VALUES (${user.id}, ${user.email}, ${emailKey(user.email)}, ${user.displayName}, ${user.role},
                ${passwordHash}, ${user.createTime}, ${user.updateTime})
        RETURNING ${this.#sql.unsafe(userColumns)}`;
      if (!row) throw new Error("INSERT returned no row");
      return toUser(row);
    } catch (error) {
      if (error instanceof postgres.PostgresError && error.code === "23505") throw emailTaken();
      throw error;
    }
  }

  async findUser(id: string): Promise<User | undefined> {
    const [row] = await this.#sql<UserRow[]>`SELECT ${
      this.#sql.unsafe(userColumns)
    } FROM users WHERE id = ${id}`;
    return row ? toUser(row) : undefined;
  }

  async findCredentials(key: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const [row] = await this.#sql<(UserRow & { password_hash: string })[]>`
      SELECT ${this.#sql.unsafe(userColumns)}, password_hash FROM users WHERE email_key = ${key}`;
    return row ? { user: toUser(row), passwordHash: row.password_hash } : undefined;
  }

  async passwordHash(userId: string): Promise<string | undefined> {
    const [row] = await this.#sql<{ password_hash: string }[]>`
      SELECT password_hash FROM users WHERE id = ${userId}`;
    return row?.password_hash;
  }

  async updateDisplayName(id: string, displayName: string, now: Date): Promise<User | undefined> {
    const [row] = await this.#sql<UserRow[]>`
      UPDATE users SET display_name = ${displayName}, update_time = ${now} WHERE id = ${id}
      RETURNING ${this.#sql.unsafe(userColumns)}`;
    return row ? toUser(row) : undefined;
  }

  async setPasswordHash(id: string, passwordHash: string, now: Date): Promise<void> {
    await this.#sql`UPDATE users SET password_hash = ${passwordHash}, update_time = ${now} WHERE id = ${id}`;
  }

  async setRole(id: string, role: Role, now: Date): Promise<User | undefined> {
    const [row] = await this.#sql<UserRow[]>`
      UPDATE users SET role = ${role}, update_time = ${now} WHERE id = ${id}
      RETURNING ${this.#sql.unsafe(userColumns)}`;
    return row ? toUser(row) : undefined;
  }

  async listUsers(pageSize: number, after: UserCursor | undefined): Promise<UserPage> {
    // Keyset paging: stable under concurrent registrations and as fast on page 1000 as on page 1.
    const rows = after
      ? await this.#sql<UserRow[]>`
          SELECT ${this.#sql.unsafe(userColumns)} FROM users
          WHERE (create_time, id) > (${after.createTime}, ${after.id})
          ORDER BY create_time, id LIMIT ${pageSize + 1}`
      : await this.#sql<UserRow[]>`
          SELECT ${this.#sql.unsafe(userColumns)} FROM users ORDER BY create_time, id LIMIT ${pageSize + 1}`;
    const users = rows.slice(0, pageSize).map(toUser);
    const last = users[users.length - 1];
    return {
      users,
      next: rows.length > pageSize && last ? { createTime: last.createTime, id: last.id } : undefined,
    };
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    await this.#sql`
      INSERT INTO refresh_tokens (token_hash, user_id, family_id, create_time, expire_time, family_expire_time)
      VALUES (${token.tokenHash}, ${token.userId}, ${token.familyId}, ${token.createTime},
              LEAST(${token.expireTime}::timestamptz, ${token.familyExpireTime}::timestamptz),
              ${token.familyExpireTime})`;
  }

  async rotateRefreshToken(tokenHash: string, next: NextRefreshToken, now: Date): Promise<RotateOutcome> {
    return await this.#sql.begin(async (tx) => {
      const [used] = await tx<{ user_id: string; family_id: string; family_expire_time: Date }[]>`
        UPDATE refresh_tokens SET use_time = ${now}
        WHERE token_hash = ${tokenHash} AND use_time IS NULL AND revoke_time IS NULL AND expire_time > ${now}
        RETURNING user_id, family_id, family_expire_time`;
      if (used) {
        await tx`
          INSERT INTO refresh_tokens (token_hash, user_id, family_id, create_time, expire_time, family_expire_time)
          VALUES (${next.tokenHash}, ${used.user_id}, ${used.family_id}, ${next.createTime},
                  LEAST(${next.expireTime}::timestamptz, ${used.family_expire_time}::timestamptz),
                  ${used.family_expire_time})`;
        return { kind: "rotated", userId: used.user_id } as const;
      }
      const [known] = await tx<{ user_id: string; family_id: string; use_time: Date | null }[]>`
        SELECT user_id, family_id, use_time FROM refresh_tokens
        WHERE token_hash = ${tokenHash} AND revoke_time IS NULL AND expire_time > ${now}`;
      if (!known?.use_time) return { kind: "invalid" } as const;
      // A rotated token came back: someone holds a copy. Kill the whole family.
      await tx`UPDATE refresh_tokens SET revoke_time = ${now} WHERE family_id = ${known.family_id} AND revoke_time IS NULL`;
      return { kind: "reused", userId: known.user_id } as const;
    });
  }

  async revokeRefreshTokenFamily(tokenHash: string, now: Date): Promise<void> {
    await this.#sql`
      UPDATE refresh_tokens SET revoke_time = ${now}
      WHERE revoke_time IS NULL
        AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ${tokenHash})`;
  }

  async revokeUserRefreshTokens(userId: string, now: Date): Promise<void> {
    await this.#sql`
      UPDATE refresh_tokens SET revoke_time = ${now} WHERE user_id = ${userId} AND revoke_time IS NULL`;
  }

  async recordLoginFailure(key: string, now: Date): Promise<void> {
    await this.#sql`INSERT INTO login_failures (throttle_key, fail_time) VALUES (${key}, ${now})`;
  }

  async loginFailures(key: string, since: Date): Promise<LoginFailures> {
    const [row] = await this.#sql<{ count: number; oldest: Date | null }[]>`
      SELECT count(*)::int AS count, min(fail_time) AS oldest FROM login_failures
      WHERE throttle_key = ${key} AND fail_time > ${since}`;
    return { count: row?.count ?? 0, oldest: row?.oldest ?? undefined };
  }

  async takeAttempt(key: string, schedule: AttemptSchedule, now: Date): Promise<AttemptDecision> {
    return await this.#sql.begin(async (tx) => {
      // The row exists before anyone locks it, so concurrent first attempts queue on one lock too.
      await tx`
        INSERT INTO sign_in_attempts (throttle_key, attempts, last_time) VALUES (${key}, 0, ${now})
        ON CONFLICT (throttle_key) DO NOTHING`;
      const [row] = await tx<{ attempts: number; last_time: Date }[]>`
        SELECT attempts, last_time FROM sign_in_attempts WHERE throttle_key = ${key} FOR UPDATE`;
      const decision = admitAttempt(
        schedule,
        row ? { attempts: row.attempts, lastTime: row.last_time } : undefined,
        now,
      );
      if (decision.admitted) {
        await tx`
          UPDATE sign_in_attempts SET attempts = ${decision.state.attempts}, last_time = ${decision.state.lastTime}
          WHERE throttle_key = ${key}`;
      }
      return decision;
    });
  }

  async releaseAttempt(key: string): Promise<void> {
    await this.#sql`
      UPDATE sign_in_attempts SET attempts = greatest(attempts - 1, 0) WHERE throttle_key = ${key}`;
  }

  async clearAttempts(key: string): Promise<void> {
    await this.#sql`DELETE FROM sign_in_attempts WHERE throttle_key = ${key}`;
  }

  async purge(before: PurgeCutoffs): Promise<PurgeCounts> {
    const failures = await this.#sql`DELETE FROM login_failures WHERE fail_time < ${before.loginFailures}`;
    const attempts = await this.#sql`DELETE FROM sign_in_attempts WHERE last_time < ${before.attempts}`;
    const tokens = await this.#sql`DELETE FROM refresh_tokens WHERE expire_time < ${before.refreshTokens}`;
    return { loginFailures: failures.count, attempts: attempts.count, refreshTokens: tokens.count };
  }
}
