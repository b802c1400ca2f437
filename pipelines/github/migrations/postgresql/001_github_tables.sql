-- The GitHub tables: raw events, push events (also the enrichment work queue), actors and
-- repositories. etlrun's own tables (etl_checkpoints, etl_dead_letters, etl_schema_migrations)
-- are created by the sql sink itself.
CREATE TABLE IF NOT EXISTS github_events (
  event_id    text PRIMARY KEY,
  type        text NOT NULL,
  actor_id    bigint,
  repo_id     bigint,
  created_at  timestamptz,
  raw         jsonb NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS github_events_type_created ON github_events (type, created_at);

-- A push row is never stored without its raw event: the sink writes github_events first, and a
-- push whose event the database refused is refused too (a dead letter naming the constraint).
CREATE TABLE IF NOT EXISTS push_events (
  push_id           bigint PRIMARY KEY,
  event_id          text NOT NULL REFERENCES github_events (event_id),
  repository_id     bigint NOT NULL,
  actor_id          bigint NOT NULL,
  ref               text,
  head              text,
  before            text,
  created_at        timestamptz,
  size              integer,
  distinct_size     integer,
  commit_count      integer,
  enrichment_status text NOT NULL DEFAULT 'pending' CHECK (enrichment_status IN
                    ('pending', 'in_progress', 'completed', 'failed', 'gone')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz,
  claimed_at        timestamptz,
  last_error        text
);
CREATE INDEX IF NOT EXISTS push_events_enrichment ON push_events (enrichment_status, next_attempt_at);

CREATE TABLE IF NOT EXISTS actors (
  id         bigint PRIMARY KEY,
  login      text,
  raw        jsonb,
  etag       text,
  fetched_at timestamptz,
  status     text NOT NULL DEFAULT 'ok'
);

CREATE TABLE IF NOT EXISTS repositories (
  id         bigint PRIMARY KEY,
  full_name  text,
  raw        jsonb,
  etag       text,
  fetched_at timestamptz,
  status     text NOT NULL DEFAULT 'ok'
);
