-- The audit chain from here on: each record names how its hash was made (`scheme`), the key it
-- was made with (`key_id`, a fingerprint, never the key), and carries the hash of the events its
-- command appended (`content_hash`) and, for a booking, the loan's terms hash. Records written
-- before this migration keep the scheme `sha256` (unkeyed, without content hashes).
ALTER TABLE audit_log ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
ALTER TABLE audit_log ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN terms_hash TEXT;
ALTER TABLE audit_head ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';

-- One row the readiness check rewrites, so it proves that a transaction can commit.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
