-- Sealed delivery (issue #15): a brief records how its values reach the agent; a sealed
-- brief's boot token is kept as its SHA-256 with the sealed env (ciphertext under a key
-- derived from the token, which is never stored) until it is redeemed once or expires;
-- an organization may require sealed delivery.
ALTER TABLE briefs ADD COLUMN delivery TEXT NOT NULL DEFAULT 'env';
ALTER TABLE scopes ADD COLUMN sealed_only BIGINT NOT NULL DEFAULT 0;

CREATE TABLE boot_tokens (
    brief_id      TEXT PRIMARY KEY REFERENCES briefs(id),
    token_hash    TEXT NOT NULL UNIQUE,
    expires_at    TEXT NOT NULL,
    sealed        TEXT,
    redeemed_at   TEXT,
    redeemed_from TEXT,
    replayed_at   TEXT,
    replayed_from TEXT
);
-- The sweep of expired tokens reads only those still holding a sealed env.
CREATE INDEX boot_tokens_waiting ON boot_tokens (expires_at) WHERE sealed IS NOT NULL;
