-- The engine's state after a loan's first `version` events, to resume from instead of replaying
-- them: `day` is the ISO date of the engine's last day-end, `engine` its JSON (opaque here).
-- Written with the command that produced it; pruned to the newest few per loan and the newest
-- of each block of versions.
CREATE TABLE loan_snapshots (
    loan_id    TEXT NOT NULL REFERENCES loans (id),
    version    BIGINT NOT NULL,
    day        TEXT NOT NULL,
    engine     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (loan_id, version)
);
CREATE INDEX loan_snapshots_by_day ON loan_snapshots (loan_id, day, version);
