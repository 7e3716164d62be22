-- The close of business and the general ledger.
--
-- A close (`eod_runs`) is one per book and business date. Its steps are split into partitions of
-- the loan book (the last hex digit of the loan id); `eod_progress` holds each partition's cursor
-- (the last loan id done), its claim by a worker and its counters, advanced in the same
-- transaction as what the chunk wrote, so a killed close resumes where it stopped.
CREATE TABLE eod_runs (
    book_id       TEXT NOT NULL REFERENCES books (id),
    business_date TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'done')),
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    summary       TEXT,
    PRIMARY KEY (book_id, business_date)
);

CREATE TABLE eod_progress (
    book_id       TEXT NOT NULL,
    business_date TEXT NOT NULL,
    step          TEXT NOT NULL,
    partition     INTEGER NOT NULL,
    cursor        TEXT,
    done          BOOLEAN NOT NULL DEFAULT FALSE,
    claimed_by    TEXT,
    claimed_at    TEXT,
    loans_read    BIGINT NOT NULL DEFAULT 0,
    loans_changed BIGINT NOT NULL DEFAULT 0,
    rows_written  BIGINT NOT NULL DEFAULT 0,
    millis        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (book_id, business_date, step, partition),
    FOREIGN KEY (book_id, business_date) REFERENCES eod_runs (book_id, business_date)
);

-- Double-entry lines: an entry's lines share its id and balance (checked by the store on write).
CREATE TABLE gl_lines (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    book_id    TEXT NOT NULL REFERENCES books (id),
    entry_id   TEXT NOT NULL,
    line_no    INTEGER NOT NULL,
    posted_on  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    narration  TEXT NOT NULL,
    account    TEXT NOT NULL,
    loan_id    TEXT,
    product_id TEXT,
    partner_id TEXT,
    debit      BIGINT NOT NULL CHECK (debit >= 0),
    credit     BIGINT NOT NULL CHECK (credit >= 0),
    source     TEXT NOT NULL,
    UNIQUE (book_id, entry_id, line_no)
);
CREATE INDEX gl_lines_by_date ON gl_lines (book_id, posted_on);
CREATE INDEX gl_lines_by_loan ON gl_lines (loan_id);

-- Loans by partition, in id order within it. A loan's partition key is the last character of its
-- id lowercased when it is a hex digit, else '0' (`partition_key_sql` in `src/eod.rs`, which
-- queries exactly this expression): one key per partition, so a page of a partition is one range.
CREATE INDEX loans_by_partition ON loans (book_id, (CASE WHEN lower(substr(id, length(id), 1)) IN ('1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f') THEN lower(substr(id, length(id), 1)) ELSE '0' END), id);
-- Which loans took an event since a time.
CREATE INDEX loan_events_by_recorded ON loan_events (loan_id, recorded_at);

-- What the closes have posted for each loan: the events read, the day closed, the summary accruals
-- posted for it (in all, and to suspense), the provision held and the NPA flag. The next close
-- posts only what is new.
CREATE TABLE eod_marks (
    loan_id   TEXT PRIMARY KEY REFERENCES loans (id),
    version   BIGINT NOT NULL,
    day       TEXT NOT NULL,
    earned    BIGINT NOT NULL,
    suspended BIGINT NOT NULL,
    provision BIGINT NOT NULL,
    npa       BOOLEAN NOT NULL
);
