// The enrichment's cache reads on the embedded SQLite store.
#include "database.h"
#include "dialects.h"
#include "sqlite_session.h"
#include "store.h"

namespace store {
namespace {

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, Poco::Logger& logger)
      : session_(std::move(path)), logger_(logger) {}

  std::string describe() const override { return "sqlite:" + session_.path(); }

  void open() override {
    if (session_.isOpen()) return;
    session_.open();
    logger_.information("using the embedded SQLite store " + session_.path());
  }

  std::map<int64_t, CachedEntity> cached(EntityKind kind,
                                         const std::vector<int64_t>& ids) override {
    open();
    std::map<int64_t, CachedEntity> found;
    if (ids.empty()) return found;
    std::string list;
    for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
    std::string table = kind == EntityKind::Actor ? "actors" : "repositories";
    sql::SqliteSession::Statement select(session_, "SELECT id, etag, fetched_at, status FROM " +
                                                       table + " WHERE id IN (" + list +
                                                       ") AND fetched_at IS NOT NULL");
    for (bool row = select.run({}); row; row = select.next()) {
      found[std::stoll(*select.text(0))] = {
          select.text(1).value_or(""), select.text(2).value_or(""), select.text(3).value_or("ok")};
    }
    return found;
  }

 private:
  sql::SqliteSession session_;
  Poco::Logger& logger_;
};

}  // namespace

std::unique_ptr<Store> makePostgresStore(const std::string& uri, Poco::Logger& logger);
std::unique_ptr<Store> makeMysqlStore(const std::string& uri, Poco::Logger& logger);

std::unique_ptr<Store> openStore(const etl::Config::Connection& connection,
                                 const std::string& stateDir, Poco::Logger& logger) {
  switch (sql::dialectOf(connection.uri)) {
    case sql::Dialect::Sqlite:
      return std::make_unique<SqliteStore>(*sql::sqlitePathOf(connection.uri, stateDir), logger);
    case sql::Dialect::Mysql:
      return makeMysqlStore(connection.uri, logger);
    case sql::Dialect::Postgres:
      break;
  }
  return makePostgresStore(connection.uri, logger);
}

}  // namespace store
