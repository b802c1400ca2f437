// A work queue that is a table: rows whose status says they are ready (and whose due time has
// come) are claimed (status -> claimed, claimed_at -> now) so that two claimers never get the same
// row; a claim older than the lease is taken back (its claimer died). Whoever finishes the work
// writes the row's next status (the sql sink, mode: update). How a claim locks is its dialect's
// (SqlDialect::claimStatement, lockDue).
#pragma once

#include <Poco/Logger.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sql {

struct ClaimSpec {
  std::string table, key;
  std::vector<std::string> columns;  // returned, as a JSON object per row (types kept)
  std::string status;                // the status column
  std::vector<std::string> ready;    // ready statuses; the first is "fresh" (see due)
  std::string claimed;               // the status a claim sets
  std::string due;                   // optional time column: a ready row is due once it has
                                     // passed; a fresh row with none is due at once
  std::string claimedAt;             // the time column a claim sets
  std::chrono::milliseconds answerTimeout{60000};  // of each statement (Session::setAnswerTimeout)
};

class ClaimQueue {
 public:
  virtual ~ClaimQueue() = default;
  virtual std::string describe() const = 0;
  // Up to `limit` due rows, claimed, as JSON objects of `columns`, by key. Times are ISO 8601 UTC.
  virtual std::vector<std::string> claim(const std::string& now, const std::string& leaseCutoff,
                                         int64_t limit) = 0;
  // Rows per status.
  virtual std::map<std::string, int64_t> counts() = 0;
};

// `uri` as for makeDatabase (sqlite:PATH under `stateDir`, mysql://, or PostgreSQL).
std::unique_ptr<ClaimQueue> makeClaimQueue(const std::string& uri, const std::string& stateDir,
                                           ClaimSpec spec, Poco::Logger& logger);

}  // namespace sql
