-- Web UI sessions are bound to the API token they were made with: revoking the token (or
-- the account losing its last grant) ends them. Each session also gets a public id (not the
-- cookie's secret), by which its owner or root lists and ends it.
-- Sessions from before this version are not bound to a token: they end here, and their
-- users sign in again.

DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN token_id TEXT REFERENCES api_tokens(id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN public_id TEXT;
ALTER TABLE sessions ADD COLUMN source TEXT;
CREATE UNIQUE INDEX sessions_by_public_id ON sessions (public_id);
CREATE INDEX sessions_by_token ON sessions (token_id);
CREATE INDEX sessions_by_account ON sessions (account_id);
