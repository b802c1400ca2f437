// A batch split into the rows of each table, with the records no table accepts moved to the dead
// letters. Shared by the PostgreSQL and SQLite stores so both store exactly the same thing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "etl/batch.h"
#include "etl/clock.h"

namespace store {

struct EventRow {
  std::string eventId;
  std::string type;
  std::optional<int64_t> actorId, repoId;
  std::optional<std::string> createdAt;
  const std::string* raw = nullptr;  // points into the batch's record
};

struct PushRow {
  int64_t pushId = 0;
  std::string eventId;
  int64_t repositoryId = 0, actorId = 0;
  std::string ref, head, createdAt;
  std::optional<std::string> before;  // absent from 2012-era payloads
  std::optional<int64_t> size, distinctSize, commitCount;
  const std::string* raw = nullptr;  // the derived record, for a dead letter
};

enum class EntityKind { Actor, Repository };

// An actor or repository as fetched (or found gone) by enrichment.
struct EntityRow {
  EntityKind kind = EntityKind::Actor;
  int64_t id = 0;
  std::string name;                // login or full_name
  std::optional<std::string> raw;  // the API's JSON; none when gone or only refreshed
  std::string etag;
  std::string fetchedAt;      // ISO 8601 UTC
  std::string status = "ok";  // ok | gone
  bool refreshOnly = false;   // a 304: only fetched_at changes
};

// The outcome of enriching one push event.
struct EnrichmentRow {
  int64_t pushId = 0;
  std::string status;  // completed | failed | gone | pending
  int64_t attempts = 0;
  std::optional<std::string> nextAttemptAt;  // ISO 8601 UTC
  std::optional<std::string> error;
};

// A dead letter as stored: any bytes. `record` is always valid UTF-8 without NUL (readable, and
// lossy when the bytes were not); then `recordBytes` holds the exact bytes (bytea/BLOB).
struct DeadLetterRow {
  std::string plugin, stream, reason, record;
  std::optional<std::string> recordBytes;
  std::string fingerprint;  // makes a replayed batch's dead letters idempotent
};

struct Streams {
  std::string events = "github_events";
  std::string pushes = "push_events";
  std::string actors = "actors";
  std::string repositories = "repositories";
  std::string enrichment = "push_enrichment";
};

struct Rows {
  std::vector<EventRow> events;
  std::vector<PushRow> pushes;
  std::vector<EntityRow> entities;
  std::vector<EnrichmentRow> enrichment;
  std::vector<DeadLetterRow> deadLetters;
};

using etl::isoTime;

// How enrichment hands its results to the sink: records whose raw bytes are the API's JSON and
// whose metadata carries the rest (see rows.cpp).
etl::Record entityRecord(const Streams& streams, const EntityRow& row);
etl::Record enrichmentRecord(const Streams& streams, const EnrichmentRow& row);

// Rejects (batch.reject) records that are not valid JSON, lack a required field, or belong to no
// known stream, and the rows derived from a rejected event (a push row is never stored without its
// raw event); the rows then point into batch.records, which must not change afterwards.
Rows splitBatch(etl::Batch& batch, const Streams& streams);

DeadLetterRow deadLetterRow(const etl::DeadLetter& letter);

}  // namespace store
