// What the GitHub enrichment reads from the GitHub tables (which the `sql` sink writes and the
// migrations in pipelines/github/migrations create): the push events due for enrichment (the
// work queue is push_events itself), the cached actors and repositories, the queue's counts.
// PostgreSQL or SQLite, from the connection URI.
#pragma once

#include <Poco/Logger.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "etl/config.h"

namespace store {

enum class EntityKind { Actor, Repository };

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
  // Connects if needed. Throws etl::RetryableError while the database cannot be reached.
  virtual void open() = 0;
  virtual std::string describe() const = 0;
  // Marks up to `limit` push events in_progress and returns them: pending ones that are due,
  // failed ones due for a retry (a final failure has no next attempt), and in_progress ones whose
  // claim is older than `leaseCutoff` (their claimer died). Concurrent claimers never get the
  // same row. Times are ISO 8601 UTC from the caller's clock.
  virtual std::vector<Claim> claim(const std::string& nowIso, const std::string& leaseCutoff,
                                   int64_t limit) = 0;
  virtual std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                                 const std::vector<int64_t>& ids) = 0;
  // push_events per enrichment_status.
  virtual std::map<std::string, int64_t> enrichmentCounts() = 0;
};

// The store a plugin's `connection` key names (a relative sqlite: path is under `stateDir`).
std::unique_ptr<Store> openStore(const etl::Config::Connection& connection,
                                 const std::string& stateDir, Poco::Logger& logger);

}  // namespace store
