-- External writes (AWS Secrets Manager, Vault) as one step with the version check: a
-- writer reserves (scope, name) here, checking expected_version in the same transaction,
-- before it touches the backend; it records the new version and deletes its reservation
-- in one transaction. A reservation past `expires_ms` (a writer that crashed) may be taken
-- over. And per brief, the backend version whose value it handed out.

CREATE TABLE write_reservations (
    scope      TEXT NOT NULL,
    name       TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, name)
);

ALTER TABLE brief_secrets ADD COLUMN backend_version TEXT;
