-- Orders and the durable state of their checkout sagas.
CREATE TABLE orders (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  request_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'failed', 'cancelled')),
  -- [{productId, quantity, name, unitPrice: {currencyCode, amountMinor (string)}}]
  items jsonb NOT NULL,
  total_currency text,
  total_minor bigint CHECK (total_minor >= 0),
  status_history jsonb NOT NULL,
  failure_reason text NOT NULL DEFAULT '',
  shipping_address jsonb NOT NULL,
  payment_method text NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  -- The saga: the next step, and who drives it until when.
  saga_step text NOT NULL CHECK (saga_step IN ('reserve', 'charge', 'commit', 'compensate', 'done')),
  charge_attempted boolean NOT NULL DEFAULT false,
  lease_owner text,
  lease_until timestamptz,
  -- The arbiter of idempotent creation: one order per user and request id, however many arrive at once.
  UNIQUE (user_id, request_id)
);
CREATE INDEX orders_by_user_newest ON orders (user_id, create_time DESC, id DESC);
CREATE INDEX orders_newest ON orders (create_time DESC, id DESC);
-- The recovery loop's query: sagas with work left.
CREATE INDEX orders_unfinished_sagas ON orders (lease_until) WHERE saga_step <> 'done';
