-- Who may link what (SPEC §7): which backend references an organization may link, and
-- which links root made (usable by the scope's members whatever the prefixes say).

-- One row per allowed prefix; `backend` is aws_sm or vault. No row: only root links.
CREATE TABLE link_prefixes (
    org_id  INTEGER NOT NULL REFERENCES scopes(id),
    backend TEXT NOT NULL,
    prefix  TEXT NOT NULL,
    PRIMARY KEY (org_id, backend, prefix)
);

-- Root's approval of a secret's link, for the normalised reference it was linked to; gone
-- with the secret, and replaced by a link that someone else makes.
CREATE TABLE link_approvals (
    secret_id   INTEGER PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
    reference   TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL
);
