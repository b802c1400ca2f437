// etl/batch.h: what moves between plugins: records plus the checkpoint that covers them.
#pragma once

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
