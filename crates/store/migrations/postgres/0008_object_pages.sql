-- Every object has a page (issue #14): a task's briefs and a project's tasks and briefs,
-- newest first, each a walk down one index in the order of the list (time, then id), so a
-- page reads only the rows it shows, however many a task or project has.
DROP INDEX briefs_by_task;
CREATE INDEX briefs_by_task ON briefs (task_id, created_at, id);
CREATE INDEX briefs_by_project ON briefs (project, created_at, id);
CREATE INDEX tasks_by_project ON tasks (project_id, created_at, id);
