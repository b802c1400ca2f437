// Where the GitHub pipelines keep their data: PostgreSQL, or the embedded SQLite default. Both
// hold the same tables with the same idempotency (unique keys) and commit a batch's rows, its dead
// letters and its checkpoint in one transaction.
#pragma once

#include <Poco/Logger.h>

#include <memory>
#include <string>
#include <vector>

#include "rows.h"

namespace store {

struct WriteResult {
  int64_t eventsInserted = 0;  // new rows; the rest of the batch was already stored
  int64_t pushesInserted = 0;
  std::vector<std::pair<std::size_t, std::string>> rejectedEvents;  // index in rows.events, reason
  std::vector<std::pair<std::size_t, std::string>> rejectedPushes;
};

class Store {
 public:
  virtual ~Store() = default;
  // Connects if needed and applies pending migrations (safe when several processes start at
  // once). Throws etl::RetryableError while the database cannot be reached.
  virtual void open() = 0;
  virtual std::string loadCheckpoint(const std::string& pipeline) = 0;
  // One transaction: rows (insert-or-ignore), dead letters (idempotent by fingerprint) and the
  // checkpoint. Rows the database refuses are returned, dead-lettered in the same transaction.
  virtual WriteResult write(const std::string& pipeline, const std::string& plugin,
                            const Rows& rows, const std::string& checkpoint) = 0;
  virtual std::string describe() const = 0;
};

// `connection` empty: the embedded SQLite store at `sqlitePath`.
std::unique_ptr<Store> openStore(const std::string& connection, const std::string& passwordEnv,
                                 const std::string& sqlitePath, Poco::Logger& logger);

}  // namespace store
