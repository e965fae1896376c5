-- The audit log answers questions (issue #14): filtered by scope, secret name, actor,
-- action, target and time, newest first, a page at a time. Each filter has an index that
-- ends in the log's order (time, then id), so a page is one walk down one index whatever
-- the size of the log.
DROP INDEX audit_by_scope;
DROP INDEX audit_by_actor;
CREATE INDEX audit_by_time ON audit (at, id);
CREATE INDEX audit_by_scope ON audit (scope, at, id);
CREATE INDEX audit_by_actor ON audit (actor, at, id);
CREATE INDEX audit_by_name ON audit (name, at, id);
CREATE INDEX audit_by_action ON audit (action, at, id);
CREATE INDEX audit_by_target ON audit (target, at, id);

-- Who was handed a secret: the dispatches of one secret, newest first, from one index.
ALTER TABLE brief_secrets ADD COLUMN dispatched_at TEXT NOT NULL DEFAULT '';
UPDATE brief_secrets
   SET dispatched_at = (SELECT created_at FROM briefs WHERE briefs.id = brief_secrets.brief_id);
CREATE INDEX brief_secrets_by_secret ON brief_secrets (scope, name, dispatched_at);
