-- An idempotency key belongs to one request target (method and path with its ids), and is
-- reserved while its request runs: status 0 marks a reservation, taken at `reserved_at`
-- (milliseconds since the epoch), which a later copy of the request waits for.
ALTER TABLE idempotency_keys ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN reserved_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX loans_by_number ON loans (loan_number);
