-- Per-task credentials (issue #16). A secret may be a generator (`postgres`, `aws_sts`):
-- its versions hold a spec (JSON: the admin ref's name, the statements, the role ARN, the
-- TTL), never a value or a credential. What a dispatch minted is a lease: the provider,
-- the role name or session ARN, the brief, the secret and the expiry — never a password,
-- key or token. A lease is claimed (claimed_by, claimed_until) by the one server that
-- revokes it.
ALTER TABLE secrets ADD COLUMN generator TEXT CHECK (generator IN ('postgres', 'aws_sts'));
ALTER TABLE secret_versions ADD COLUMN generator TEXT;

-- The covering index of 0007 serves a secret's metadata from the index alone: it covers
-- the new column too.
DROP INDEX secrets_by_scope_and_name_covering;
CREATE INDEX secrets_by_scope_and_name_covering ON secrets
    (scope_id, name, id, current_version, category, backend, created_at, updated_at, updated_by, delivery, generator);

CREATE TABLE leases (
    id            TEXT PRIMARY KEY,
    brief_id      TEXT NOT NULL,
    project       TEXT NOT NULL,
    scope         TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    provider      TEXT NOT NULL CHECK (provider IN ('postgres', 'aws_sts')),
    principal     TEXT NOT NULL,
    admin_scope   TEXT,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoke_reason TEXT,
    revoked_at    TEXT,
    claimed_by    TEXT,
    claimed_until TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT
);
CREATE INDEX leases_by_brief ON leases (brief_id);
CREATE INDEX leases_by_project ON leases (project, created_at);
-- The sweeper reads only the leases not yet revoked.
CREATE INDEX leases_open ON leases (expires_at) WHERE revoked_at IS NULL;
