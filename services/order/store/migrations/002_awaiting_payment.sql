-- A charge the payment processor is still processing leaves the order AWAITING_PAYMENT, its saga waiting
-- (`await_payment`) for the payment service's notice; the recovery loop leaves such orders alone.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
  CHECK (status IN ('pending', 'awaiting_payment', 'paid', 'shipped', 'delivered', 'failed', 'cancelled'));
ALTER TABLE orders DROP CONSTRAINT orders_saga_step_check;
ALTER TABLE orders ADD CONSTRAINT orders_saga_step_check
  CHECK (saga_step IN ('reserve', 'charge', 'commit', 'await_payment', 'compensate', 'done'));
DROP INDEX orders_unfinished_sagas;
CREATE INDEX orders_unfinished_sagas ON orders (lease_until) WHERE saga_step NOT IN ('done', 'await_payment');
