-- Accounts, refresh tokens and sign-in failures of the user service.
CREATE TABLE users (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  -- lower(trim(email)): one account per address, whatever its case.
  email_key text NOT NULL UNIQUE,
  display_name text NOT NULL,
  role text NOT NULL CHECK (role IN ('customer', 'admin')),
  -- scrypt, in the PHC-like format of credentials/password_hasher.ts; never a plaintext password.
  password_hash text NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
-- Keyset paging in registration order.
CREATE INDEX users_registration_order ON users (create_time, id);

CREATE TABLE refresh_tokens (
  -- SHA-256 of the opaque token; the token itself is never stored.
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  create_time timestamptz NOT NULL,
  expire_time timestamptz NOT NULL,
  use_time timestamptz,
  revoke_time timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- One row per failed sign-in, keyed by "account:<email key>" or "address:<client address>".
CREATE TABLE login_failures (
  throttle_key text NOT NULL,
  fail_time timestamptz NOT NULL
);
CREATE INDEX login_failures_key_time ON login_failures (throttle_key, fail_time);
