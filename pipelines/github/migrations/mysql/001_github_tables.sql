-- The GitHub tables on MariaDB/MySQL: raw events, push events (also the enrichment work queue),
-- actors and repositories, as postgresql/001_github_tables.sql. Text keys are VARCHAR (an index
-- needs a bounded length); jsonb is JSON; timestamptz is DATETIME(6) in UTC (etlrun's sessions
-- use time_zone '+00:00'). etlrun's own tables are created by the sql sink itself.
CREATE TABLE IF NOT EXISTS github_events (
  event_id    VARCHAR(64) PRIMARY KEY,
  type        VARCHAR(64) NOT NULL,
  actor_id    BIGINT,
  repo_id     BIGINT,
  created_at  DATETIME(6),
  raw         JSON NOT NULL,
  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  INDEX github_events_type_created (type, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A push row is never stored without its raw event: the sink writes github_events first, and a
-- push whose event the database refused is refused too (a dead letter naming the constraint).
CREATE TABLE IF NOT EXISTS push_events (
  push_id           BIGINT PRIMARY KEY,
  event_id          VARCHAR(64) NOT NULL,
  repository_id     BIGINT NOT NULL,
  actor_id          BIGINT NOT NULL,
  ref               LONGTEXT,
  head              VARCHAR(64),
  `before`          VARCHAR(64),
  created_at        DATETIME(6),
  size              INT,
  distinct_size     INT,
  commit_count      INT,
  enrichment_status VARCHAR(16) NOT NULL DEFAULT 'pending' CHECK (enrichment_status IN
                    ('pending', 'in_progress', 'completed', 'failed', 'gone')),
  attempts          INT NOT NULL DEFAULT 0,
  next_attempt_at   DATETIME(6),
  claimed_at        DATETIME(6),
  last_error        LONGTEXT,
  CONSTRAINT push_events_event FOREIGN KEY (event_id) REFERENCES github_events (event_id),
  INDEX push_events_enrichment (enrichment_status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS actors (
  id         BIGINT PRIMARY KEY,
  login      VARCHAR(255),
  raw        JSON,
  etag       VARCHAR(255),
  fetched_at DATETIME(6),
  status     VARCHAR(16) NOT NULL DEFAULT 'ok'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS repositories (
  id         BIGINT PRIMARY KEY,
  full_name  VARCHAR(255),
  raw        JSON,
  etag       VARCHAR(255),
  fetched_at DATETIME(6),
  status     VARCHAR(16) NOT NULL DEFAULT 'ok'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
