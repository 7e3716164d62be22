-- Each book's debit failure table: every (rail, code) a bank or scheme answers a failed debit
-- with, its class, reason and next action, as the CSV the domain's `FailureTable::from_csv`
-- reads. Versioned rows, never updated: a change adds the next version, and the newest version
-- is the table in effect. A book without a row classifies by the shipped seed table, which is
-- version 1; a book's first table of its own is version 2.
CREATE TABLE failure_tables (
    book_id    TEXT NOT NULL REFERENCES books (id),
    version    BIGINT NOT NULL CHECK (version >= 2),
    csv        TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (book_id, version)
);
