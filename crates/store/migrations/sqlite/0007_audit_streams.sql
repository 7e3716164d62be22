-- The audit log becomes one hash chain per stream (`loan:ID`, `user:NAME`, `book`, …). Each record
-- carries its stream and its number in it; `seq` stays the position in the whole log, for paging.
-- The one chain written before is the `book` stream's beginning: its records keep their numbers
-- (what was hashed), and new `book` records continue it. Nothing is rehashed here.
ALTER TABLE audit_log ADD COLUMN stream TEXT NOT NULL DEFAULT 'book';
ALTER TABLE audit_log ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0;
UPDATE audit_log SET stream_seq = seq;
CREATE UNIQUE INDEX audit_log_by_stream ON audit_log (stream, stream_seq);

-- Each stream's newest record, kept by the trigger below.
CREATE TABLE audit_heads (
    stream TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    scheme TEXT NOT NULL
);
INSERT INTO audit_heads (stream, seq, hash, scheme)
SELECT 'book', seq, hash, scheme FROM audit_head WHERE seq > 0;
DROP TABLE audit_head;

CREATE TRIGGER audit_log_moves_its_head AFTER INSERT ON audit_log
BEGIN
    INSERT INTO audit_heads (stream, seq, hash, scheme)
    VALUES (NEW.stream, NEW.stream_seq, NEW.hash, NEW.scheme)
    ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, scheme = excluded.scheme;
END;

-- Book-level checkpoints: a keyed hash over every stream's head, chained, with the heads covered.
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    heads     TEXT NOT NULL,
    records   BIGINT NOT NULL,
    scheme    TEXT NOT NULL,
    key_id    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
