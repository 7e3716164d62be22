-- The application a loan was booked from (origination), if any: the loan's stream starts where
-- the application's ends.
ALTER TABLE loans ADD COLUMN application_id TEXT;
