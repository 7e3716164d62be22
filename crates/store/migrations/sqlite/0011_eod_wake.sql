-- The close reads a loan only on the day it wakes, or when a command has written an event for it
-- that its mark has not seen. Each mark carries the loan's book and partition key, the day
-- it wakes (NULL: only an event wakes it) and its plan: the interest accrued on each quiet day
-- before it wakes, comma-separated, from the day after the mark's day. `eod_accruals` sums the
-- plans per book, day, product and NPA flag: the summary accrual the close posts for the loans it
-- does not read.
ALTER TABLE eod_marks ADD COLUMN book_id TEXT;
ALTER TABLE eod_marks ADD COLUMN part TEXT;
ALTER TABLE eod_marks ADD COLUMN wake_on TEXT;
ALTER TABLE eod_marks ADD COLUMN plan TEXT NOT NULL DEFAULT '';
UPDATE eod_marks SET
    book_id = (SELECT l.book_id FROM loans l WHERE l.id = eod_marks.loan_id),
    part = CASE WHEN lower(substr(loan_id, length(loan_id), 1)) IN ('1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f') THEN lower(substr(loan_id, length(loan_id), 1)) ELSE '0' END,
    wake_on = day;
CREATE INDEX eod_marks_waking ON eod_marks (book_id, part, wake_on);

-- The loans commands wrote events for since a close last read them: the command's transaction
-- upserts the loan's newest event number, and the chunk that reads the loan deletes the row when
-- its mark covers that number (a command racing the chunk leaves its row for the next close).
CREATE TABLE eod_touched (
    loan_id TEXT PRIMARY KEY REFERENCES loans (id),
    part    TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX eod_touched_by_part ON eod_touched (part, loan_id);
-- The close no longer looks for events by the time they were recorded.
DROP INDEX loan_events_by_recorded;

CREATE TABLE eod_accruals (
    book_id    TEXT NOT NULL REFERENCES books (id),
    day        TEXT NOT NULL,
    product_id TEXT NOT NULL,
    npa        BOOLEAN NOT NULL,
    amount     BIGINT NOT NULL,
    PRIMARY KEY (book_id, day, product_id, npa)
);
