-- The names enrichment asks the API with, kept on the push row: the work queue needs no join.
ALTER TABLE push_events ADD COLUMN IF NOT EXISTS actor_login text;
ALTER TABLE push_events ADD COLUMN IF NOT EXISTS repo_name text;
UPDATE push_events p
   SET actor_login = e.raw->'actor'->>'login', repo_name = e.raw->'repo'->>'name'
  FROM github_events e
 WHERE e.event_id = p.event_id AND p.actor_login IS NULL;
