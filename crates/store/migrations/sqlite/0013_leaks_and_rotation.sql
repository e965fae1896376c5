-- Leak detection and rotation that is due (issue #17). A secret may have a maximum age of
-- its own (`rotate_every_secs`, seconds; NULL: none, a rotation policy of its category may
-- apply) and a leaked mark (`leaked_at`: when its current version was found where it must
-- not be; cleared by the next version written). A brief records when one of the values it
-- handed out was found in what its agent produced. A rotation policy is a maximum age for
-- the secrets of one category at a scope and below.
ALTER TABLE secrets ADD COLUMN rotate_every_secs INTEGER;
ALTER TABLE secrets ADD COLUMN leaked_at TEXT;
ALTER TABLE briefs ADD COLUMN leaked_at TEXT;

-- The covering index of 0007 serves a secret's metadata from the index alone: it covers
-- the new columns too.
DROP INDEX secrets_by_scope_and_name_covering;
CREATE INDEX secrets_by_scope_and_name_covering ON secrets
    (scope_id, name, id, current_version, category, backend, created_at, updated_at, updated_by, delivery, generator,
     rotate_every_secs, leaked_at);

CREATE TABLE rotation_policies (
    scope_id   INTEGER NOT NULL REFERENCES scopes(id),
    category   TEXT NOT NULL,
    every_secs INTEGER NOT NULL CHECK (every_secs > 0),
    PRIMARY KEY (scope_id, category)
);
