#include "list_query.h"

#include "database.h"
#include "dialects.h"
#include "mysql_session.h"
#include "pg_session.h"
#include "sqlite_session.h"

namespace sql {

namespace {

class PgListQuery : public ListQuery {
 public:
  PgListQuery(const std::string& uri, std::string statement, Poco::Logger& logger)
      : session_(uri, logger), statement_(std::move(statement)) {}
  std::vector<std::string> run() override {
    if (!session_.connected()) session_.connect();
    Result r(session_.query(statement_));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) {
      if (!r.isNull(i, 0)) out.push_back(r.value(i, 0));
    }
    return out;
  }

 private:
  PgSession session_;
  std::string statement_;
};

class SqliteListQuery : public ListQuery {
 public:
  SqliteListQuery(const std::string& path, std::string statement)
      : session_(path), statement_(std::move(statement)) {}
  std::vector<std::string> run() override {
    if (!session_.isOpen()) session_.open();
    SqliteSession::Statement select(session_, statement_);
    std::vector<std::string> out;
    for (bool row = select.run({}); row; row = select.next()) {
      if (auto value = select.text(0)) out.push_back(*value);
    }
    return out;
  }

 private:
  SqliteSession session_;
  std::string statement_;
};

class MysqlListQuery : public ListQuery {
 public:
  MysqlListQuery(const std::string& uri, std::string statement)
      : session_(uri), statement_(std::move(statement)) {}
  std::vector<std::string> run() override {
    std::vector<std::string> out;
    for (auto& row : session_.query(statement_)) {
      if (!row.empty() && row[0]) out.push_back(std::move(*row[0]));
    }
    return out;
  }

 private:
  MysqlSession session_;  // connects on its first query, and again after an outage
  std::string statement_;
};

}  // namespace

std::unique_ptr<ListQuery> makeListQuery(const std::string& uri, const std::string& stateDir,
                                         std::string statement, Poco::Logger& logger) {
  switch (dialectOf(uri)) {
    case Dialect::Sqlite:
      return std::make_unique<SqliteListQuery>(*sqlitePathOf(uri, stateDir), std::move(statement));
    case Dialect::Mysql:
      return std::make_unique<MysqlListQuery>(uri, std::move(statement));
    case Dialect::Postgres:
      break;
  }
  return std::make_unique<PgListQuery>(uri, std::move(statement), logger);
}

}  // namespace sql
