-- The GitHub tables in the embedded SQLite store: the same columns as PostgreSQL's, with SQLite's
-- types (timestamps as ISO 8601 text, JSON as text). etlrun's own tables are the sql sink's.
CREATE TABLE IF NOT EXISTS github_events (
  event_id    TEXT PRIMARY KEY,
  type        TEXT NOT NULL,
  actor_id    INTEGER,
  repo_id     INTEGER,
  created_at  TEXT,
  raw         TEXT NOT NULL,
  ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX IF NOT EXISTS github_events_type_created ON github_events (type, created_at);

CREATE TABLE IF NOT EXISTS push_events (
  push_id           INTEGER PRIMARY KEY,
  event_id          TEXT NOT NULL REFERENCES github_events (event_id),
  repository_id     INTEGER NOT NULL,
  actor_id          INTEGER NOT NULL,
  ref               TEXT,
  head              TEXT,
  before            TEXT,
  created_at        TEXT,
  size              INTEGER,
  distinct_size     INTEGER,
  commit_count      INTEGER,
  enrichment_status TEXT NOT NULL DEFAULT 'pending' CHECK (enrichment_status IN
                    ('pending', 'in_progress', 'completed', 'failed', 'gone')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at   TEXT,
  claimed_at        TEXT,
  last_error        TEXT
);
CREATE INDEX IF NOT EXISTS push_events_enrichment ON push_events (enrichment_status, next_attempt_at);

CREATE TABLE IF NOT EXISTS actors (
  id INTEGER PRIMARY KEY, login TEXT, raw TEXT, etag TEXT, fetched_at TEXT,
  status TEXT NOT NULL DEFAULT 'ok'
);

CREATE TABLE IF NOT EXISTS repositories (
  id INTEGER PRIMARY KEY, full_name TEXT, raw TEXT, etag TEXT, fetched_at TEXT,
  status TEXT NOT NULL DEFAULT 'ok'
);
