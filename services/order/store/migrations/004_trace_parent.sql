-- The W3C traceparent of the request that placed the order: work on the order resumed later (the recovery
-- loop, the payment's outcome from a webhook) links its spans to the trace that started it. NULL when the
-- request was not traced.
ALTER TABLE orders ADD COLUMN trace_parent text;
