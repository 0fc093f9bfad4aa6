-- The payment ledger: one payment per order, the refunds made against it, and the Stripe webhook events
-- already applied.
CREATE TABLE payments (
  id uuid PRIMARY KEY,
  -- One charge per order: the unique index, not a check-then-insert, decides between concurrent charges.
  order_id uuid NOT NULL UNIQUE,
  -- The customer the order belongs to; decides who may read the payment.
  user_id uuid NOT NULL,
  currency_code text NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  -- A Stripe PaymentMethod id (pm_...); never card data.
  payment_method text NOT NULL CHECK (payment_method ~ '^pm_[A-Za-z0-9_]+$'),
  -- Written before Stripe is called; every retry sends the same key, so Stripe answers with the same
  -- PaymentIntent.
  idempotency_key text NOT NULL UNIQUE,
  charge_status text NOT NULL CHECK (charge_status IN ('pending', 'succeeded', 'failed')),
  stripe_payment_intent_id text UNIQUE,
  failure_reason text NOT NULL DEFAULT '',
  decline_code text NOT NULL DEFAULT '',
  -- The sum of the refunds that succeeded or may still succeed (pending), kept by the trigger below.
  -- The CHECK is the last word on "never refund more than was captured", whatever the code above does.
  refund_reserved_minor bigint NOT NULL DEFAULT 0,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  CONSTRAINT refunds_within_amount CHECK (refund_reserved_minor BETWEEN 0 AND amount_minor),
  CONSTRAINT refunds_only_when_captured CHECK (refund_reserved_minor = 0 OR charge_status = 'succeeded')
);
CREATE INDEX payments_order_listing ON payments (order_id, create_time, id);

CREATE TABLE refunds (
  id uuid PRIMARY KEY,
  payment_id uuid NOT NULL REFERENCES payments (id),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  reason text NOT NULL DEFAULT '',
  -- Written before Stripe is called, as for payments.
  idempotency_key text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  stripe_refund_id text UNIQUE,
  failure_reason text NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
CREATE INDEX refunds_of_payment ON refunds (payment_id, create_time, id);

-- Increments (not a recomputed sum): under concurrency each UPDATE re-reads the latest row version after
-- waiting for its lock, so two refunds committed at once both count and the CHECK sees their total.
CREATE FUNCTION reserve_refund_amount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.status <> 'failed' THEN
    UPDATE payments SET refund_reserved_minor = refund_reserved_minor + NEW.amount_minor
    WHERE id = NEW.payment_id;
  ELSIF TG_OP = 'UPDATE' AND OLD.status <> 'failed' AND NEW.status = 'failed' THEN
    UPDATE payments SET refund_reserved_minor = refund_reserved_minor - NEW.amount_minor
    WHERE id = NEW.payment_id;
  ELSIF TG_OP = 'UPDATE' AND OLD.status = 'failed' AND NEW.status <> 'failed' THEN
    RAISE EXCEPTION 'a failed refund stays failed';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER refunds_reserve_amount AFTER INSERT OR UPDATE OF status ON refunds
  FOR EACH ROW EXECUTE FUNCTION reserve_refund_amount();

-- Stripe delivers events at least once: an event id stored here has been applied and is ignored after.
CREATE TABLE webhook_events (
  event_id text PRIMARY KEY,
  type text NOT NULL,
  receive_time timestamptz NOT NULL
);
