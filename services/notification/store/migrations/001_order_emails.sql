-- One row per order event whose email was (or is being) sent: the key of "never twice". See
-- domain/notifications.ts for the states and the exact guarantee.
CREATE TABLE order_emails (
  event_id uuid PRIMARY KEY,
  order_id uuid NOT NULL,
  state text NOT NULL CHECK (state IN ('preparing', 'committing', 'sent', 'unconfirmed')),
  holder text,
  hold_until timestamptz,
  update_time timestamptz NOT NULL
);
CREATE INDEX order_emails_settled ON order_emails (update_time) WHERE state IN ('sent', 'unconfirmed');
