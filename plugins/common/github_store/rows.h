// A batch split into the rows of each table, with the records no table accepts moved to the dead
// letters. Shared by the PostgreSQL and SQLite stores so both store exactly the same thing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "etl/batch.h"

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
  std::string ref, head, before, createdAt;
  std::optional<int64_t> size, distinctSize, commitCount;
};

struct DeadLetterRow {
  std::string plugin, stream, reason, record;
  std::string fingerprint;  // makes a replayed batch's dead letters idempotent
};

struct Streams {
  std::string events = "github_events";
  std::string pushes = "push_events";
};

struct Rows {
  std::vector<EventRow> events;
  std::vector<PushRow> pushes;
  std::vector<DeadLetterRow> deadLetters;
};

// Rejects (batch.reject) records that are not valid JSON, lack a required field, or belong to no
// known stream; the rows then point into batch.records, which must not change afterwards.
Rows splitBatch(etl::Batch& batch, const Streams& streams);

DeadLetterRow deadLetterRow(const etl::DeadLetter& letter);

}  // namespace store
