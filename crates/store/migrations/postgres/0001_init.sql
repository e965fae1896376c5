-- secretstore schema, version 1 (PostgreSQL).
-- Values are never stored in plaintext: `ciphertext` holds a Fernet token (local backend);
-- external backends keep only a reference (`backend_ref`, `backend_version`).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE scopes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path       TEXT NOT NULL UNIQUE,
    level      TEXT NOT NULL,
    parent_id  BIGINT REFERENCES scopes(id),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE secrets (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope_id        BIGINT NOT NULL REFERENCES scopes(id),
    name            TEXT NOT NULL,
    category        TEXT NOT NULL,
    backend         TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL,
    UNIQUE (scope_id, name)
);
CREATE INDEX secrets_by_name ON secrets (name);

CREATE TABLE secret_versions (
    secret_id       BIGINT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version         BIGINT NOT NULL,
    ciphertext      TEXT,
    backend_ref     TEXT,
    backend_version TEXT,
    rollback_of     BIGINT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES scopes(id),
    secret_refs TEXT NOT NULL,
    payload     TEXT,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE briefs (
    id           TEXT PRIMARY KEY,
    task_id      TEXT NOT NULL REFERENCES tasks(id),
    project      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    status       TEXT NOT NULL,
    completed_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX briefs_by_task ON briefs (task_id);

CREATE TABLE audit (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    scope   TEXT,
    name    TEXT,
    version BIGINT,
    target  TEXT,
    source  TEXT,
    detail  TEXT
);
CREATE INDEX audit_by_scope ON audit (scope);
