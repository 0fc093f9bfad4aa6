-- The order's outbox: one row per event the order announces (every status change after PENDING, every
-- refund of its compensation), written in the same transaction as the change and relayed at least once,
-- in sequence per order, to the notification service.
ALTER TABLE orders ADD COLUMN announced_changes integer NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN last_event_sequence bigint NOT NULL DEFAULT 0;
-- Orders from before the outbox announce nothing of their past.
UPDATE orders SET announced_changes = jsonb_array_length(status_history);
CREATE TABLE order_events (
  id uuid PRIMARY KEY,
  order_id uuid NOT NULL REFERENCES orders (id),
  sequence bigint NOT NULL,
  type text NOT NULL CHECK (type IN ('status_changed', 'refunded')),
  time timestamptz NOT NULL,
  status text NOT NULL,
  reason text NOT NULL,
  refunded_currency text,
  refunded_minor bigint,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL,
  delivered_time timestamptz,
  UNIQUE (order_id, sequence)
);
CREATE INDEX order_events_undelivered ON order_events (order_id, sequence) WHERE delivered_time IS NULL;
CREATE INDEX order_events_delivered ON order_events (delivered_time) WHERE delivered_time IS NOT NULL;
