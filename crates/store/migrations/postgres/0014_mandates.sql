-- Mandates: a borrower's standing authority to debit an account for a loan's instalments, on
-- one rail (`nach`, `upi_autopay`, `ach`, `card`). `reference` is the rail's own (the UMRN, the
-- UPI mandate id, the ACH authorisation id); `max_amount` is in minor units of `currency`. The
-- account number is never stored: only its last four digits and a SHA-256 of it, to tell two
-- accounts apart. `status` moves as the domain's lifecycle allows (the app checks it);
-- `status_on` is the business date of the last move, `status_reason` why it was revoked or
-- rejected. `version` counts the writes, each of which adds a row to `mandate_events`.
CREATE TABLE mandates (
    id             TEXT PRIMARY KEY,
    book_id        TEXT NOT NULL REFERENCES books (id),
    loan_id        TEXT NOT NULL REFERENCES loans (id),
    rail           TEXT NOT NULL CHECK (rail IN ('nach', 'upi_autopay', 'ach', 'card')),
    kind           TEXT NOT NULL
                   CHECK (kind IN ('enach', 'physical_nach', 'upi_autopay', 'ach', 'card')),
    reference      TEXT NOT NULL,
    max_amount     BIGINT NOT NULL CHECK (max_amount > 0),
    currency       TEXT NOT NULL,
    frequency      TEXT NOT NULL CHECK (frequency IN ('monthly', 'quarterly', 'as_presented')),
    start_date     TEXT NOT NULL,
    end_date       TEXT,
    submitted_on   TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending_registration', 'active', 'paused',
                                                   'revoked', 'expired', 'rejected')),
    status_on      TEXT,
    status_reason  TEXT,
    debtor_name    TEXT NOT NULL,
    account_last4  TEXT NOT NULL,
    account_hash   TEXT NOT NULL,
    bank_code      TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version >= 1),
    UNIQUE (book_id, rail, reference)
);
CREATE INDEX mandates_by_loan ON mandates (loan_id, created_at);
-- A loan collects through one active mandate at a time.
CREATE UNIQUE INDEX mandates_one_active ON mandates (loan_id) WHERE status = 'active';

-- Append-only: one row per write of a mandate, numbered by the version it made.
CREATE TABLE mandate_events (
    mandate_id  TEXT NOT NULL REFERENCES mandates (id),
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reason      TEXT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (mandate_id, seq)
);
