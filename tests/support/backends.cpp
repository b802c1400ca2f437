#include "backends.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include "mariadb_env.h"
#include "postgres_env.h"

namespace etltest {

std::string backendName(Backend backend) {
  switch (backend) {
    case Backend::Postgres:
      return "PostgreSQL";
    case Backend::Sqlite:
      return "EmbeddedSQLite";
    case Backend::Mariadb:
      return "MariaDB";
  }
  return "?";
}

BackendDb::BackendDb(Backend backend, std::string sqlitePath)
    : backend_(backend), sqlitePath_(std::move(sqlitePath)) {
  if (backend == Backend::Postgres) postgres_ = std::make_unique<TestDatabase>();
  if (backend == Backend::Mariadb) mariadb_ = std::make_unique<TestMariaDb>();
}

BackendDb::~BackendDb() = default;

std::string BackendDb::uri() const {
  if (postgres_) return postgres_->uri();
  if (mariadb_) return mariadb_->uri();
  return "sqlite:" + sqlitePath_;
}

std::vector<std::string> BackendDb::column(const std::string& statement) const {
  if (postgres_) return sql(postgres_->conninfo(), statement);
  if (mariadb_) return mariadb_->query(statement);
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session session("SQLite", sqlitePath_);
  std::vector<std::string> values;
  session << statement, Poco::Data::Keywords::into(values), Poco::Data::Keywords::now;
  return values;
}

int64_t BackendDb::count(const std::string& statement) const {
  auto rows = column(statement);
  return rows.empty() || rows[0].empty() ? 0 : std::stoll(rows[0]);
}

}  // namespace etltest
