/**
 * Accounts: what a user is, and the rules about emails, names and passwords.
 *
 * @module
 */
import { invalidArgument } from "@shop/platform/errors";

/** What a user may do. */
export type Role = "customer" | "admin";

/** A shop account. The password hash lives in the store only; it is never part of this type. */
export interface User {
  id: string;
  /** As the user typed it at registration. */
  email: string;
  displayName: string;
  role: Role;
  createTime: Date;
  updateTime: Date;
}

/**
 * The key an email is unique by: trimmed and lower-cased, so `Ada@Example.com` and `ada@example.com` are
 * one account.
 *
 * @example
 * ```ts
 * emailKey(" Ada@Example.COM "); // "ada@example.com"
 * ```
 */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

/** The shortest password accepted (NIST SP 800-63B asks for at least 8). */
export const minPasswordLength = 8;
/** The longest password accepted: long passphrases are welcome, unbounded input is not. */
export const maxPasswordLength = 128;

/** Passwords attackers try first; a tiny list keeps the rule explainable ("too common"). */
const commonPasswords = new Set([
  "password",
  "password1",
  "password123",
  "12345678",
  "123456789",
  "1234567890",
  "qwertyuiop",
  "qwerty123",
  "iloveyou",
  "letmein1",
  "11111111",
  "00000000",
  "abcdefgh",
  "abc12345",
  "baseball",
  "football",
  "sunshine",
  "welcome1",
  "changeme",
  "passw0rd",
]);

/**
 * Why a password is refused, in words a user understands, or undefined when it is fine. The policy,
 * after NIST SP 800-63B: 8 to 128 characters, any characters at all, not one of the most common
 * passwords, not the email address, not one character repeated.
 *
 * @example
 * ```ts
 * passwordProblem("password", "ada@example.com"); // "is one of the most common passwords"
 * passwordProblem("correct horse battery", "ada@example.com"); // undefined
 * ```
 */
export function passwordProblem(password: string, email: string): string | undefined {
  const length = [...password].length;
  if (length < minPasswordLength) return `must be at least ${minPasswordLength} characters`;
  if (length > maxPasswordLength) return `must be at most ${maxPasswordLength} characters`;
  if (commonPasswords.has(password.toLowerCase())) return "is one of the most common passwords";
  if (password.trim().toLowerCase() === emailKey(email)) return "must not be your email address";
  if (new Set(password).size === 1) return "must not be one character repeated";
  return undefined;
}

/**
 * Checks a password against the policy; throws INVALID_ARGUMENT naming `field` when it fails.
 *
 * @example
 * ```ts
 * checkPassword("new_password", "correct horse battery", "ada@example.com");
 * ```
 */
export function checkPassword(field: string, password: string, email: string): void {
  const problem = passwordProblem(password, email);
  if (problem) throw invalidArgument([{ field, description: `password ${problem}` }]);
}

/**
 * A display name, trimmed; throws INVALID_ARGUMENT naming `field` when it is empty, too long or holds
 * control characters.
 *
 * @example
 * ```ts
 * checkDisplayName("display_name", "  Ada Lovelace "); // "Ada Lovelace"
 * ```
 */
export function checkDisplayName(field: string, name: string): string {
  const trimmed = name.trim();
  if (trimmed === "") throw invalidArgument([{ field, description: "must not be empty" }]);
  if ([...trimmed].length > 80) {
    throw invalidArgument([{ field, description: "must be at most 80 characters" }]);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw invalidArgument([{ field, description: "must not contain control characters" }]);
  }
  return trimmed;
}
