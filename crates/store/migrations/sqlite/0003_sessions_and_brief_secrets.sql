-- Web UI sessions (only the SHA-256 of a session id is kept) and, per brief, which
-- secret versions it handed out (for the "stale" mark of running agents).

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE brief_secrets (
    brief_id TEXT NOT NULL REFERENCES briefs(id) ON DELETE CASCADE,
    scope    TEXT NOT NULL,
    name     TEXT NOT NULL,
    version  BIGINT NOT NULL,
    PRIMARY KEY (brief_id, name)
);
CREATE INDEX briefs_by_created ON briefs (created_at);
