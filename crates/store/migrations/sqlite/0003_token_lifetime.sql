-- Tokens get an id (so they can be listed and revoked without their secret), a display prefix,
-- an optional expiry and the name of who revoked them. Existing tokens are named after the
-- first characters of their hash: the hash of a random secret says nothing about the secret.
ALTER TABLE api_tokens ADD COLUMN id TEXT;
ALTER TABLE api_tokens ADD COLUMN prefix TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_by TEXT;
UPDATE api_tokens SET id = 'tok_' || substr(hash, 1, 24) WHERE id IS NULL;
CREATE UNIQUE INDEX api_tokens_id ON api_tokens (id);

-- Bumped by every revocation, in the revoking transaction. A server compares it with the value
-- its token cache was filled under, so a revocation made by any process ends cached sessions.
CREATE TABLE token_revocations (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO token_revocations (id, generation) VALUES (1, 0);
