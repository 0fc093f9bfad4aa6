-- Sign-in throttling that cannot lock an owner out (issue 17): per throttle key ("pair:<email key>|<address>",
-- "address:<address>", "password:<user id>|<address>") the attempts that count and when the last one
-- was let through. A login takes the row's lock to decide, so concurrent guesses cannot share a slot.
CREATE TABLE sign_in_attempts (
  throttle_key text PRIMARY KEY,
  attempts integer NOT NULL CHECK (attempts >= 0),
  last_time timestamptz NOT NULL
);
CREATE INDEX sign_in_attempts_last_time ON sign_in_attempts (last_time);

-- login_failures now counts only failures per account ("account:<email key>"), for the ceiling past
-- which every address gets a single attempt before its waits begin; the purge job deletes old rows.
CREATE INDEX login_failures_time ON login_failures (fail_time);
DELETE FROM login_failures WHERE throttle_key NOT LIKE 'account:%';

-- Refresh-token families end at an absolute time, whatever their rotations. Tokens issued before this
-- column existed end when they expire.
ALTER TABLE refresh_tokens ADD COLUMN family_expire_time timestamptz;
UPDATE refresh_tokens SET family_expire_time = expire_time;
ALTER TABLE refresh_tokens ALTER COLUMN family_expire_time SET NOT NULL;
CREATE INDEX refresh_tokens_expire_time ON refresh_tokens (expire_time);
