-- The names enrichment asks the API with, kept on the push row: the work queue needs no join.
ALTER TABLE push_events ADD COLUMN actor_login TEXT;
ALTER TABLE push_events ADD COLUMN repo_name TEXT;
UPDATE push_events
   SET actor_login = (SELECT json_extract(e.raw, '$.actor.login') FROM github_events e
                       WHERE e.event_id = push_events.event_id),
       repo_name = (SELECT json_extract(e.raw, '$.repo.name') FROM github_events e
                     WHERE e.event_id = push_events.event_id)
 WHERE actor_login IS NULL;
