// The enrichment's cache reads on MariaDB/MySQL.
#include "mysql_session.h"
#include "store.h"

namespace store {
namespace {

class MysqlStore : public Store {
 public:
  MysqlStore(std::string uri, Poco::Logger& logger) : session_(std::move(uri)), logger_(logger) {}

  std::string describe() const override { return session_.describe(); }

  void open() override {
    if (session_.connected()) return;
    session_.connect();
    logger_.information("connected to " + describe());
  }

  std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                         const std::vector<int64_t>& ids) override {
    open();
    std::map<int64_t, CachedEntity> found;
    if (ids.empty()) return found;
    std::string list;
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    std::string table = kind == EntityKind::Actor ? "actors" : "repositories";
    // fetched_at as ISO 8601 UTC with milliseconds, as on PostgreSQL (the session's zone is UTC).
    for (auto& row :
         session_.query("SELECT id, COALESCE(etag, ''), CONCAT(LEFT(DATE_FORMAT(fetched_at, "
                        "'%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z'), status FROM " +
                        table + " WHERE id IN (" + list + ") AND fetched_at IS NOT NULL")) {
      found[std::stoll(row[0].value_or("0"))] = {row[1].value_or(""), row[2].value_or(""),
                                                 row[3].value_or("ok")};
    }
    return found;
  }

 private:
  sql::MysqlSession session_;
  Poco::Logger& logger_;
};

}  // namespace

std::unique_ptr<Store> makeMysqlStore(const std::string& uri, Poco::Logger& logger) {
  return std::make_unique<MysqlStore>(uri, logger);
}

}  // namespace store
