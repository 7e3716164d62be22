-- Applications: each application's append-only event stream (its origination history) and its
-- projection for queries and queues. The projection is derived from the events, rebuildable.
CREATE TABLE applications (
    id              TEXT PRIMARY KEY,
    book_id         TEXT NOT NULL REFERENCES books (id),
    number          TEXT NOT NULL,
    product_id      TEXT NOT NULL,
    product_version BIGINT NOT NULL,
    applicant_id    TEXT,
    status          TEXT NOT NULL,
    queue           TEXT,
    loan_id         TEXT REFERENCES loans (id),
    version         BIGINT NOT NULL,
    state           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (book_id, number)
);
CREATE INDEX applications_by_status ON applications (status, id);
CREATE INDEX applications_by_queue ON applications (queue, id);
CREATE INDEX applications_by_applicant ON applications (applicant_id, id);

-- Append-only: rows are inserted with the next sequence number of their application and never
-- changed.
CREATE TABLE application_events (
    application_id TEXT NOT NULL REFERENCES applications (id),
    seq            BIGINT NOT NULL,
    event          TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    command_id     TEXT NOT NULL,
    PRIMARY KEY (application_id, seq)
);
