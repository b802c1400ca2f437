// What the GitHub enrichment reads from the GitHub tables (which the `sql` sink writes and the
// migrations in pipelines/github/migrations create): the actors and repositories it fetched
// before, its cache. PostgreSQL, SQLite or MySQL, from the connection URI (sql::dialectOf).
#pragma once

#include <Poco/Logger.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "etl/config.h"

namespace store {

enum class EntityKind { Actor, Repository };

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
  virtual std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                                 const std::vector<int64_t>& ids) = 0;
};

// The store a plugin's `connection` key names (a relative sqlite: path is under `stateDir`).
std::unique_ptr<Store> openStore(const etl::Config::Connection& connection,
                                 const std::string& stateDir, Poco::Logger& logger);

}  // namespace store
