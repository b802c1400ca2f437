#include "migrations.h"

namespace store {

const std::vector<Migration>& postgresMigrations() {
  static const std::vector<Migration> migrations = {
      {1,
       "github events, push events, enrichment tables, checkpoints, dead letters",
       {R"(CREATE TABLE github_events (
             event_id    text PRIMARY KEY,
             type        text NOT NULL,
             actor_id    bigint,
             repo_id     bigint,
             created_at  timestamptz,
             raw         jsonb NOT NULL,
             ingested_at timestamptz NOT NULL DEFAULT now()))",
        "CREATE INDEX github_events_type_created ON github_events (type, created_at)",
        R"(CREATE TABLE push_events (
             push_id           bigint PRIMARY KEY,
             event_id          text NOT NULL,
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
             last_error        text))",
        "CREATE INDEX push_events_enrichment ON push_events (enrichment_status, next_attempt_at)",
        R"(CREATE TABLE actors (
             id         bigint PRIMARY KEY,
             login      text,
             raw        jsonb,
             etag       text,
             fetched_at timestamptz,
             status     text NOT NULL DEFAULT 'ok'))",
        R"(CREATE TABLE repositories (
             id         bigint PRIMARY KEY,
             full_name  text,
             raw        jsonb,
             etag       text,
             fetched_at timestamptz,
             status     text NOT NULL DEFAULT 'ok'))",
        R"(CREATE TABLE etl_checkpoints (
             pipeline   text PRIMARY KEY,
             checkpoint text NOT NULL,
             updated_at timestamptz NOT NULL DEFAULT now()))",
        R"(CREATE TABLE etl_dead_letters (
             id          bigserial PRIMARY KEY,
             fingerprint text NOT NULL UNIQUE,
             pipeline    text NOT NULL,
             plugin      text NOT NULL,
             stream      text,
             reason      text NOT NULL,
             record      text NOT NULL,
             created_at  timestamptz NOT NULL DEFAULT now()))"}},
      {2,
       "dead letters keep any bytes: record_bytes holds them exactly when record (text) cannot",
       {"ALTER TABLE etl_dead_letters ADD COLUMN record_bytes bytea"}},
  };
  return migrations;
}

const std::vector<Migration>& sqliteMigrations() {
  static const std::vector<Migration> migrations = {
      {1,
       "github events, push events, enrichment tables, checkpoints, dead letters",
       {R"(CREATE TABLE github_events (
             event_id    TEXT PRIMARY KEY,
             type        TEXT NOT NULL,
             actor_id    INTEGER,
             repo_id     INTEGER,
             created_at  TEXT,
             raw         TEXT NOT NULL,
             ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))))",
        "CREATE INDEX github_events_type_created ON github_events (type, created_at)",
        R"(CREATE TABLE push_events (
             push_id           INTEGER PRIMARY KEY,
             event_id          TEXT NOT NULL,
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
             last_error        TEXT))",
        "CREATE INDEX push_events_enrichment ON push_events (enrichment_status, next_attempt_at)",
        R"(CREATE TABLE actors (
             id INTEGER PRIMARY KEY, login TEXT, raw TEXT, etag TEXT, fetched_at TEXT,
             status TEXT NOT NULL DEFAULT 'ok'))",
        R"(CREATE TABLE repositories (
             id INTEGER PRIMARY KEY, full_name TEXT, raw TEXT, etag TEXT, fetched_at TEXT,
             status TEXT NOT NULL DEFAULT 'ok'))",
        R"(CREATE TABLE etl_checkpoints (
             pipeline TEXT PRIMARY KEY, checkpoint TEXT NOT NULL,
             updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))))",
        R"(CREATE TABLE etl_dead_letters (
             id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL UNIQUE,
             pipeline TEXT NOT NULL, plugin TEXT NOT NULL, stream TEXT, reason TEXT NOT NULL,
             record TEXT NOT NULL,
             created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))))"}},
      {2,
       "dead letters keep any bytes: record_bytes holds them exactly when record (text) cannot",
       {"ALTER TABLE etl_dead_letters ADD COLUMN record_bytes BLOB"}},
  };
  return migrations;
}

}  // namespace store
