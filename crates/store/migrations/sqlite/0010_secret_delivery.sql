-- How a secret reaches the agent (issue #15): `env` (the value as the variable NAME, as
-- every secret so far) or `file` (the value in a private file, its path in NAME_FILE).
ALTER TABLE secrets ADD COLUMN delivery TEXT NOT NULL DEFAULT 'env'
    CHECK (delivery IN ('env', 'file'));

-- The covering index of 0007 serves a secret's metadata from the index alone: it covers
-- the new column too.
DROP INDEX secrets_by_scope_and_name_covering;
CREATE INDEX secrets_by_scope_and_name_covering ON secrets
    (scope_id, name, id, current_version, category, backend, created_at, updated_at, updated_by, delivery);
