-- How a secret reaches the agent (issue #15): `env` (the value as the variable NAME, as
-- every secret so far) or `file` (the value in a private file, its path in NAME_FILE).
ALTER TABLE secrets ADD COLUMN delivery TEXT NOT NULL DEFAULT 'env'
    CHECK (delivery IN ('env', 'file'));
