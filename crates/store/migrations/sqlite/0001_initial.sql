-- Loanbook schema, SQLite. Money is INTEGER minor units, dates and times ISO-8601 text, JSON text.

CREATE TABLE books (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    business_date TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    partner_id TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE products (
    id         TEXT PRIMARY KEY,
    book_id    TEXT NOT NULL REFERENCES books (id),
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (book_id, code)
);

CREATE TABLE product_versions (
    product_id TEXT NOT NULL REFERENCES products (id),
    version    INTEGER NOT NULL,
    config     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (product_id, version)
);

CREATE TABLE parties (
    id         TEXT PRIMARY KEY,
    book_id    TEXT NOT NULL REFERENCES books (id),
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    details    TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE loans (
    id              TEXT PRIMARY KEY,
    book_id         TEXT NOT NULL REFERENCES books (id),
    loan_number     TEXT NOT NULL,
    borrower_id     TEXT,
    product_id      TEXT,
    product_version INTEGER,
    terms           TEXT NOT NULL,
    terms_hash      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (book_id, loan_number)
);

CREATE TABLE loan_partners (
    loan_id    TEXT NOT NULL REFERENCES loans (id),
    partner_id TEXT NOT NULL,
    PRIMARY KEY (loan_id, partner_id)
);
CREATE INDEX loan_partners_by_partner ON loan_partners (partner_id, loan_id);

-- Append-only: rows are inserted with the next sequence number of their loan and never changed.
CREATE TABLE loan_events (
    loan_id     TEXT NOT NULL REFERENCES loans (id),
    seq         INTEGER NOT NULL,
    value_date  TEXT NOT NULL,
    event       TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    command_id  TEXT NOT NULL,
    PRIMARY KEY (loan_id, seq)
);

CREATE TABLE loan_projections (
    loan_id               TEXT PRIMARY KEY REFERENCES loans (id),
    version               INTEGER NOT NULL,
    as_of                 TEXT NOT NULL,
    status                TEXT NOT NULL,
    classification        TEXT NOT NULL,
    dpd                   INTEGER NOT NULL,
    principal_outstanding INTEGER NOT NULL,
    total_overdue         INTEGER NOT NULL,
    state                 TEXT NOT NULL
);
CREATE INDEX loan_projections_by_status ON loan_projections (status, loan_id);

CREATE TABLE idempotency_keys (
    scope          TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    status         INTEGER NOT NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    target         TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    event_ids      TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);

CREATE TABLE outbox (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    loan_id    TEXT,
    topic      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    topics     TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id),
    outbox_position INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    next_attempt_at TEXT,
    last_error      TEXT,
    delivered_at    TEXT,
    PRIMARY KEY (endpoint_id, outbox_position)
);

CREATE TABLE approvals (
    id         TEXT PRIMARY KEY,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    maker      TEXT NOT NULL,
    status     TEXT NOT NULL,
    checker    TEXT,
    created_at TEXT NOT NULL,
    decided_at TEXT
);
