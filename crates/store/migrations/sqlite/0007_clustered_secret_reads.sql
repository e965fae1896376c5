-- The reads of every reveal and dispatch touch half the pages they did (issue #13):
-- a version is found in one B-tree, not an index and then the table (secret_versions
-- becomes a WITHOUT ROWID table clustered on its primary key), and a secret's metadata
-- comes from the index that finds it (a covering index on scope and name). SQLite only:
-- PostgreSQL keeps its tables as they are.

CREATE TABLE secret_versions_clustered (
    secret_id       INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    ciphertext      TEXT,
    backend_ref     TEXT,
    backend_version TEXT,
    rollback_of     INTEGER,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
) WITHOUT ROWID;

INSERT INTO secret_versions_clustered
    (secret_id, version, ciphertext, backend_ref, backend_version, rollback_of, created_at, created_by)
SELECT secret_id, version, ciphertext, backend_ref, backend_version, rollback_of, created_at, created_by
FROM secret_versions;

DROP TABLE secret_versions;

ALTER TABLE secret_versions_clustered RENAME TO secret_versions;

CREATE INDEX secrets_by_scope_and_name_covering ON secrets
    (scope_id, name, id, current_version, category, backend, created_at, updated_at, updated_by);
