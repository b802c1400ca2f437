// The enrichment's cache reads on PostgreSQL.
#include <algorithm>

#include "pg_session.h"
#include "store.h"

namespace store {
namespace {

class PgStore : public Store {
 public:
  PgStore(std::string uri, Poco::Logger& logger)
      : session_(std::move(uri), logger), logger_(logger) {}

  std::string describe() const override { return session_.describe(); }

  void open() override {
    if (session_.connected()) return;
    session_.connect();
    logger_.information("connected to " + describe());
  }

  std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                         const std::vector<int64_t>& ids) override {
    open();
    std::string list = "{";
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    list += "}";
    std::string table = kind == EntityKind::Actor ? "actors" : "repositories";
    sql::Result r(
        session_.params("SELECT id, coalesce(etag, ''), to_char(fetched_at AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), status FROM " +
                            table + " WHERE id = ANY($1::bigint[]) AND fetched_at IS NOT NULL",
                        {list}));
    std::map<int64_t, CachedEntity> found;
    for (int i = 0; i < r.rows(); ++i) {
      found[std::stoll(r.value(i, 0))] = {r.value(i, 1), r.value(i, 2), r.value(i, 3)};
    }
    return found;
  }

 private:
  sql::PgSession session_;
  Poco::Logger& logger_;
};

}  // namespace

std::unique_ptr<Store> makePostgresStore(const std::string& uri, Poco::Logger& logger) {
  return std::make_unique<PgStore>(uri, logger);
}

}  // namespace store
