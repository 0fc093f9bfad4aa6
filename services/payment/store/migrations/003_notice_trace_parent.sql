-- The W3C traceparent of the webhook (or reconciliation) that settled the charge: the relay sends the
-- notice in that trace, so a person follows Stripe's webhook to the order it finished (README "Tracing").
ALTER TABLE order_notices ADD COLUMN trace_parent text;
