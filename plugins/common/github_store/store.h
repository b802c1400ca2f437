// Where the GitHub pipelines keep their data: PostgreSQL, or the embedded SQLite default. Both
// hold the same tables with the same idempotency (unique keys) and commit a batch's rows, its dead
// letters and its checkpoint in one transaction.
#pragma once

#include <Poco/Logger.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "etl/plugin.h"
#include "rows.h"

namespace store {

struct WriteResult {
  int64_t eventsInserted = 0;  // new rows; the rest of the batch was already stored
  int64_t pushesInserted = 0;
  std::vector<std::pair<std::size_t, std::string>> rejectedEvents;  // index in rows.events, reason
  std::vector<std::pair<std::size_t, std::string>> rejectedPushes;
};

// A push event taken for enrichment, with the names the API wants.
struct Claim {
  int64_t pushId = 0;
  int64_t actorId = 0;
  int64_t repositoryId = 0;
  std::string actorLogin;  // from the stored raw event
  std::string repoName;    // owner/name
  int64_t attempts = 0;
};

struct CachedEntity {
  std::string etag;
  std::string fetchedAt;  // ISO 8601 UTC
  std::string status;     // ok | gone
};

class Store {
 public:
  virtual ~Store() = default;
  // Connects if needed and applies pending migrations (safe when several processes start at
  // once). Throws etl::RetryableError while the database cannot be reached.
  virtual void open() = 0;
  // The pipeline's committed checkpoint; nullopt when it has none yet.
  virtual std::optional<std::string> loadCheckpoint(const std::string& pipeline) = 0;
  // One transaction: rows (insert-or-ignore), dead letters (idempotent by fingerprint) and the
  // checkpoint. Rows the database refuses are returned, dead-lettered in the same transaction.
  virtual WriteResult write(const std::string& pipeline, const std::string& plugin,
                            const Rows& rows, const std::string& checkpoint) = 0;
  virtual std::string describe() const = 0;

  // Enrichment. Marks up to `limit` push events in_progress and returns them: pending ones that
  // are due, failed ones due for a retry (a final failure has no next attempt), and in_progress
  // ones whose claim is older than `leaseCutoff` (their claimer died). Concurrent claimers never
  // get the same row. Times are ISO 8601 UTC from the caller's clock.
  virtual std::vector<Claim> claim(const std::string& nowIso, const std::string& leaseCutoff,
                                   int64_t limit) = 0;
  virtual std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                                 const std::vector<int64_t>& ids) = 0;
  // push_events per enrichment_status.
  virtual std::map<std::string, int64_t> enrichmentCounts() = 0;
};

// `connection` empty: the embedded SQLite store at `sqlitePath`.
std::unique_ptr<Store> openStore(const std::string& connection, const std::string& passwordEnv,
                                 const std::string& sqlitePath, Poco::Logger& logger);

}  // namespace store

namespace store {

// The store settings every GitHub-table plugin accepts, and the store they describe. Keeps the
// postgres sink, the enrichment queue and the enrichment transform pointing at the same place.
extern const etl::ConfigField kConnectionKey;
extern const etl::ConfigField kPasswordEnvKey;
extern const etl::ConfigField kEmbeddedPathKey;
std::unique_ptr<Store> openStore(const etl::Config& config, const etl::Context& context);

}  // namespace store
