-- The relay marks each outbox message once it has queued its webhook deliveries; a flag rather
-- than a position cursor, because positions are taken before commit and can commit out of order.
ALTER TABLE outbox ADD COLUMN dispatched_at TEXT;
CREATE INDEX outbox_undispatched ON outbox (position) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
