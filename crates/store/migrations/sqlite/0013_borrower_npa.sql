-- Asset classification is borrower-wise: each mark says whether the loan is held NPA with its
-- borrower and whether anything of it is overdue at the end of its day. The close's `borrowers`
-- step reads the marks of the day that are NPA or held (`eod_marks_npa`) and the facilities of
-- their borrowers (`loans_by_borrower`).
ALTER TABLE eod_marks ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE eod_marks ADD COLUMN arrears BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX eod_marks_npa ON eod_marks (book_id, day) WHERE npa OR held;
CREATE INDEX loans_by_borrower ON loans (book_id, borrower_id);

-- The collection demand of each active loan: its next instalment still to fall due, the day it
-- falls due, what is unpaid of it (minor units of `currency`), as the loan's last close saw it.
-- A loan is read again whenever an event changes it, so the demand is as current as the mark.
-- The close's `reminders` step reads the demands falling due a few days on (`eod_marks_due`).
ALTER TABLE eod_marks ADD COLUMN due_on TEXT;
ALTER TABLE eod_marks ADD COLUMN due_installment BIGINT;
ALTER TABLE eod_marks ADD COLUMN due_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE eod_marks ADD COLUMN currency TEXT;
CREATE INDEX eod_marks_due ON eod_marks (book_id, due_on) WHERE due_on IS NOT NULL;
CREATE VIEW collection_demands AS
    SELECT loan_id, book_id, due_installment AS installment, due_on AS due_date,
           due_amount AS amount, currency
    FROM eod_marks WHERE due_on IS NOT NULL;
