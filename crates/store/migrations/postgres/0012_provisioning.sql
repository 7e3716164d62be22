-- Each book's provisioning table: the rates (the JSON of the domain's `ProvisionRates`), the
-- preset they came from (`custom` for a table of the lender's own), and which provisioning
-- category each product's loans take their rates from (a JSON object, product id → category).
-- One row per book, replaced whole; `version` counts the replacements. A book without a row
-- provisions at the `rbi_nbfc` preset.
CREATE TABLE provisioning_tables (
    book_id    TEXT PRIMARY KEY REFERENCES books (id),
    version    BIGINT NOT NULL CHECK (version >= 1),
    preset     TEXT NOT NULL CHECK (preset IN ('rbi_nbfc', 'rbi_bank', 'custom')),
    rates      TEXT NOT NULL,
    categories TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
