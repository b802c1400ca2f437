-- The names enrichment asks the API with, kept on the push row: the work queue needs no join.
ALTER TABLE push_events ADD COLUMN IF NOT EXISTS actor_login VARCHAR(255);
ALTER TABLE push_events ADD COLUMN IF NOT EXISTS repo_name VARCHAR(255);
UPDATE push_events p JOIN github_events e ON e.event_id = p.event_id
   SET p.actor_login = JSON_VALUE(e.raw, '$.actor.login'),
       p.repo_name = JSON_VALUE(e.raw, '$.repo.name')
 WHERE p.actor_login IS NULL;
