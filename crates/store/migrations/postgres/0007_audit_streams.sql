-- The audit log becomes one hash chain per stream (`loan:ID`, `user:NAME`, `book`, …). Each record
-- carries its stream and its number in it; `seq` stays the position in the whole log, for paging,
-- now drawn from a sequence (a rolled-back write leaves a gap; the stream numbers are chained).
-- The one chain written before is the `book` stream's beginning: its records keep their numbers
-- (what was hashed), and new `book` records continue it. Nothing is rehashed here.
ALTER TABLE audit_log ADD COLUMN stream TEXT NOT NULL DEFAULT 'book';
ALTER TABLE audit_log ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0;
UPDATE audit_log SET stream_seq = seq;
CREATE UNIQUE INDEX audit_log_by_stream ON audit_log (stream, stream_seq);
CREATE SEQUENCE audit_log_seq OWNED BY audit_log.seq;
SELECT setval('audit_log_seq', COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false);
ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq');

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

CREATE FUNCTION audit_log_moves_its_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_heads (stream, seq, hash, scheme)
    VALUES (NEW.stream, NEW.stream_seq, NEW.hash, NEW.scheme)
    ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, scheme = excluded.scheme;
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_log_moves_its_head AFTER INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_moves_its_head();

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
