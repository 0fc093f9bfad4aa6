-- The outbox of payment outcomes the order service must hear: a charge that Stripe answered `processing`
-- leaves its order AWAITING_PAYMENT until the outcome arrives. The row is written in the same transaction
-- that settles the charge and sent until the order service acknowledges it (at least once; the order side
-- is idempotent).
CREATE TABLE order_notices (
  payment_id uuid PRIMARY KEY REFERENCES payments (id),
  order_id uuid NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  failure_reason text NOT NULL DEFAULT '',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL,
  delivered_time timestamptz,
  create_time timestamptz NOT NULL
);
CREATE INDEX order_notices_due ON order_notices (next_attempt_time) WHERE delivered_time IS NULL;
CREATE INDEX order_notices_delivered ON order_notices (delivered_time) WHERE delivered_time IS NOT NULL;
-- The reconciler's query: charges Stripe has not settled for a while (a lost webhook).
CREATE INDEX payments_pending ON payments (update_time) WHERE charge_status = 'pending';
