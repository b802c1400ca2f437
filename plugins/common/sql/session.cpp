// sql::Session over each database's own connection class.
#include "session.h"

#include "database.h"
#include "dialects.h"
#include "etl/errors.h"
#include "mysql_session.h"
#include "pg_session.h"
#include "sqlite_session.h"

namespace sql {
namespace {

// Each adapter owns its connection (makeSession) or views one a Database holds (sessionOver).
class PgConnection : public Session {
 public:
  PgConnection(const std::string& uri, Poco::Logger& logger)
      : owned_(std::make_unique<PgSession>(uri, logger)), session_(*owned_) {}
  explicit PgConnection(PgSession& session) : session_(session) {}
  Dialect dialect() const override { return Dialect::Postgres; }
  std::string describe() const override { return session_.describe(); }
  bool isOpen() const override { return session_.connected(); }
  bool ownsConnection() const override { return owned_ != nullptr; }
  void connect() override { session_.connect(); }
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
    // Without values, the simple protocol: it takes several statements ("SET ...; SELECT ...").
    if (values.empty()) return session_.query(statement);
    std::vector<Param> params;
    for (const auto& v : values) {
      params.emplace_back(v ? std::optional<std::string>(*v) : std::nullopt);
    }
    return session_.params(statement, params);
  }
  std::unique_ptr<PgSession> owned_;
  PgSession& session_;
};

class SqliteConnection : public Session {
 public:
  explicit SqliteConnection(std::string path)
      : owned_(std::make_unique<SqliteSession>(std::move(path))), session_(*owned_) {}
  explicit SqliteConnection(SqliteSession& session) : session_(session) {}
  Dialect dialect() const override { return Dialect::Sqlite; }
  std::string describe() const override { return "sqlite:" + session_.path(); }
  bool isOpen() const override { return session_.isOpen(); }
  bool ownsConnection() const override { return owned_ != nullptr; }
  void connect() override { session_.open(); }
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
  std::unique_ptr<SqliteSession> owned_;
  SqliteSession& session_;
};

class MariaDbConnection : public Session {
 public:
  explicit MariaDbConnection(std::string uri)
      : owned_(std::make_unique<MysqlSession>(std::move(uri))), session_(*owned_) {}
  explicit MariaDbConnection(MysqlSession& session) : session_(session) {}
  Dialect dialect() const override { return Dialect::Mysql; }
  std::string describe() const override { return session_.describe(); }
  bool isOpen() const override { return session_.connected(); }
  bool ownsConnection() const override { return owned_ != nullptr; }
  void connect() override { session_.connect(); }
  Rows query(const std::string& statement, const Values& values) override {
    open();
    return session_.query(statement, values);
  }
  int64_t execute(const std::string& statement, const Values& values) override {
    open();
    return values.empty() ? session_.runText(statement) : session_.run(statement, values);
  }
  void rollback() override { session_.rollback(); }

 private:
  std::unique_ptr<MysqlSession> owned_;
  MysqlSession& session_;
};

}  // namespace

void Session::open() {
  if (isOpen()) return;
  if (!ownsConnection()) throw etl::RetryableError(describe() + ": the connection was lost");
  connect();
}

std::unique_ptr<Session> sessionOver(PgSession& session) {
  return std::make_unique<PgConnection>(session);
}
std::unique_ptr<Session> sessionOver(SqliteSession& session) {
  return std::make_unique<SqliteConnection>(session);
}
std::unique_ptr<Session> sessionOver(MysqlSession& session) {
  return std::make_unique<MariaDbConnection>(session);
}

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
