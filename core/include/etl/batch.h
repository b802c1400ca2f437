// etl/batch.h: what moves between plugins: records plus the checkpoint that covers them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "etl/record.h"

namespace etl {

// A record that a plugin refused, with who refused it and why. Never silently dropped: a sink that
// stores dead letters writes them with the batch; otherwise the core appends them to a file.
struct DeadLetter {
  Record record;
  std::string plugin;
  std::string reason;
};

// A dead letter as a sink keeps it, for `etlrun dead-letters`.
struct StoredDeadLetter {
  int64_t id = 0;
  std::string pipeline, plugin, stream, reason;
  std::string record;     // the exact bytes
  std::string createdAt;  // ISO 8601 UTC
};

// Which stored dead letters: every set field must match.
struct DeadLetterFilter {
  std::string pipeline;
  std::string plugin;
  std::string reasonContains;
  std::string createdBefore;  // ISO 8601 UTC; "" = any age
  int64_t id = 0;             // 0 = any
  int64_t afterId = 0;        // only ids above it (paging)
  std::size_t limit = 0;      // 0 = all
};

struct Batch {
  std::vector<Record> records;
  std::vector<DeadLetter> deadLetters;
  // The source's opaque state after the last record of this batch. Committing it means "everything
  // up to here is stored"; on restart the source resumes from it.
  std::string checkpoint;

  // Moves `record` to the dead letters; the runner stamps the rejecting plugin's name.
  void reject(Record record, std::string reason) {
    deadLetters.push_back({std::move(record), {}, std::move(reason)});
  }
};

}  // namespace etl
