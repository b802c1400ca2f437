// sql::Session over each database's own connection class.
#include "session.h"

#include "database.h"
#include "dialects.h"
#include "mysql_session.h"
#include "pg_session.h"
#include "sqlite_session.h"

namespace sql {
namespace {

class PgConnection : public Session {
 public:
  PgConnection(const std::string& uri, Poco::Logger& logger) : session_(uri, logger) {}
  Dialect dialect() const override { return Dialect::Postgres; }
  std::string describe() const override { return session_.describe(); }
  bool isOpen() const override { return session_.connected(); }
  void open() override {
    if (!session_.connected()) session_.connect();
  }
  Rows query(const std::string& statement, const Values& values) override {
    Result r(send(statement, values));
    Rows rows(static_cast<std::size_t>(r.rows()));
    int columns = PQnfields(r.result);
    for (int i = 0; i < r.rows(); ++i) {
      for (int c = 0; c < columns; ++c) {
        rows[static_cast<std::size_t>(i)].push_back(
            r.isNull(i, c) ? std::nullopt : std::optional<std::string>(r.value(i, c)));
      }
    }
    return rows;
  }
  int64_t execute(const std::string& statement, const Values& values) override {
    return Result(send(statement, values)).affected();
  }
  void rollback() override { session_.rollback(); }

 private:
  PGresult* send(const std::string& statement, const Values& values) {
    open();
    std::vector<Param> params;
    for (const auto& v : values) {
      params.emplace_back(v ? std::optional<std::string>(*v) : std::nullopt);
    }
    return session_.params(statement, params);
  }
  PgSession session_;
};

class SqliteConnection : public Session {
 public:
  explicit SqliteConnection(std::string path) : session_(std::move(path)) {}
  Dialect dialect() const override { return Dialect::Sqlite; }
  std::string describe() const override { return "sqlite:" + session_.path(); }
  bool isOpen() const override { return session_.isOpen(); }
  void open() override { session_.open(); }
  void requireWritable() override { session_.requireWritable(); }
  Rows query(const std::string& statement, const Values& values) override {
    open();
    SqliteSession::Statement select(session_, statement);
    int columns = select.columns();
    Rows rows;
    for (bool row = select.run(values); row; row = select.next()) {
      rows.emplace_back();
      for (int c = 0; c < columns; ++c) rows.back().push_back(select.text(c));
    }
    return rows;
  }
  int64_t execute(const std::string& statement, const Values& values) override {
    open();
    SqliteSession::Statement run(session_, statement);
    for (bool row = run.run(values); row; row = run.next()) {
    }
    return run.changes();
  }
  void rollback() override { session_.rollback(); }

 private:
  SqliteSession session_;
};

class MariaDbConnection : public Session {
 public:
  explicit MariaDbConnection(std::string uri) : session_(std::move(uri)) {}
  Dialect dialect() const override { return Dialect::Mysql; }
  std::string describe() const override { return session_.describe(); }
  bool isOpen() const override { return session_.connected(); }
  void open() override {
    if (!session_.connected()) session_.connect();
  }
  Rows query(const std::string& statement, const Values& values) override {
    open();
    return session_.query(statement, values);
  }
  int64_t execute(const std::string& statement, const Values& values) override {
    open();
    return session_.run(statement, values);
  }
  void rollback() override { session_.rollback(); }

 private:
  MysqlSession session_;
};

}  // namespace

std::unique_ptr<Session> makeSession(const std::string& uri, const std::string& stateDir,
                                     Poco::Logger& logger) {
  switch (dialectOf(uri)) {
    case Dialect::Sqlite:
      return std::make_unique<SqliteConnection>(*sqlitePathOf(uri, stateDir));
    case Dialect::Mysql:
      return std::make_unique<MariaDbConnection>(uri);
    case Dialect::Postgres:
      break;
  }
  return std::make_unique<PgConnection>(uri, logger);
}

}  // namespace sql
