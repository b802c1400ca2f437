// etl/batch.h: what moves between plugins: records plus the checkpoint that covers them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

// A sink with parallel writers (`writers: N` in its block, see Sink::maxWriters) writes several
// batches at once, each in its own transaction, and commits them in batch order: the checkpoint a
// transaction commits then covers only batches that are all committed. The sink calls wait() just
// before it commits.
class CommitTurn {
 public:
  // `blocking(earlier)` is asked every few milliseconds while this batch waits, with the holders
  // (see hold()) of the earlier batches still open; returns true when this batch's open
  // transaction holds what one of them waits for (a row lock): the two would wait for each other.
  using Blocking = std::function<bool(const std::vector<std::string>& earlier)>;

  // Blocks until every earlier batch has committed; returns true: commit now. Returns false when
  // `blocking` said so: roll back (releasing what the earlier batch waits for), call wait() again
  // without `blocking`, then write the batch again. Throws StoppedError when an earlier batch will
  // not commit (the pipeline failed or is stopping): roll back; the batch is read again later.
  virtual bool wait(const Blocking& blocking = {}) = 0;
  // How the other writers see this batch's open transaction (a database backend's process id).
  virtual void hold(std::string holder) = 0;

 protected:
  ~CommitTurn() = default;
};

struct Batch {
  std::vector<Record> records;
  std::vector<DeadLetter> deadLetters;
  // The source's opaque state after the last record of this batch. Committing it means "everything
  // up to here is stored"; on restart the source resumes from it.
  std::string checkpoint;
  // The checkpoint is a JSON object of parts (Source::partitionedCheckpoint): a sink that commits
  // checkpoints stores each member under (pipeline, part) instead of the whole.
  bool checkpointParts = false;
  // The checkpoint committed before this batch, as this process knows it (what it read at start,
  // or the previous batch's; "" when none was stored); nullopt when unknown (a replay). A sink
  // that commits checkpoints stores this batch's only where it still finds that one: a process
  // that another one overtook (two processes running one pipeline, a group member that lost its
  // partition) stores nothing. It also tells a retry whose first try did commit, and only the
  // answer to its COMMIT was lost, that its rows are already stored.
  std::optional<std::string> previousCheckpoint;
  // Set by the runner while a sink writes the batch (never null then); with one writer, wait()
  // returns at once.
  CommitTurn* turn = nullptr;
  // What the sink's prepare() made of this batch for its write() (rows, encoded values); shared
  // by the copies a retry makes. Empty when prepare() was not called (write() then does it all).
  std::shared_ptr<const void> prepared;

  // Moves `record` to the dead letters; the runner stamps the rejecting plugin's name.
  void reject(Record record, std::string reason) {
    deadLetters.push_back({std::move(record), {}, std::move(reason)});
  }
};

// Keeps the promise of Record::origin: when a record made from an input was rejected, every
// other record made from that input leaves the batch too, and their dead letters become one that
// holds the input, with each reason ("; "-separated, in order). The runner calls it after the
// transforms; a sink that rejects records of a unit calls it before it writes. Returns how many
// records left the batch without a dead letter of their own.
std::size_t settleOrigins(Batch& batch);

}  // namespace etl
