// One MariaDB/MySQL connection through Poco::Data's MySQL connector, with the error handling every
// plugin needs: refusals that cannot heal (wrong password, no such database) told apart from
// outages, failed statements classified (the row's data, a lock, the connection, or a bug), every
// message free of the password, and every call bounded in time.
//
// Poco::Data (1.11) cannot do everything this needs; the native MYSQL* behind the session is used
// for exactly these, each said where it happens:
//  - read/write timeouts: Poco connects in the session's constructor and sets only the connect
//    timeout first; they are put on the open connection's socket layer right after (connect.cpp);
//  - reading rows: Poco's extraction of a LONGTEXT/LONGBLOB column crashes (it sizes its buffer
//    by the column's declared length, 4 GiB) and drops DATETIME's microseconds, so queries that
//    return rows go through mysql_real_query with values as escaped literals (query());
//  - mysql_info(): how many rows an UPDATE matched (MySQL's affected rows count only the rows it
//    changed) and an INSERT's duplicates.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql_error.h"

namespace Poco::Data {
class Session;
}
typedef struct st_mysql MYSQL;

namespace sql {

// A mysql://user[:password]@host[:port]/db or mariadb://... URI (?socket=/path is refused: see
// parseMysqlUri). The password may also come from MYSQL_PWD, as for the mysql client.
struct MysqlConnection {
  std::string host, user, password, database;
  unsigned port = 3306;
  std::string description;  // mysql://user@host:port/db, for logs: never the password
};

// True for mysql:// and mariadb:// URIs.
bool isMysqlUri(const std::string& uri);
// Throws std::runtime_error (a mistake, not worth retrying) naming what is wrong; the message
// never repeats the password.
MysqlConnection parseMysqlUri(const std::string& uri);

class MysqlSession {
 public:
  using Value = std::optional<std::string_view>;
  using Row = std::vector<std::optional<std::string>>;

  explicit MysqlSession(std::string uri);
  ~MysqlSession();
  MysqlSession(const MysqlSession&) = delete;
  MysqlSession& operator=(const MysqlSession&) = delete;

  // How long one statement may wait for the server's answer (read and write timeouts of the
  // connection); past it the connection is dropped and the call fails as retryable.
  void setAnswerTimeout(std::chrono::milliseconds timeout) { answerTimeout_ = timeout; }
  bool connected() const { return session_ != nullptr; }
  // Connects and sets the session up (sql_mode, time_zone, utf8mb4, lock wait). Throws
  // std::runtime_error for what cannot heal, etl::RetryableError for the rest.
  void connect();
  void disconnect();
  std::string describe() const;

  // Runs one statement with `values` bound to its ? placeholders (NULL for nullopt; text with its
  // length, NUL bytes and all), through Poco::Data. Returns the rows it changed, an UPDATE's as
  // PostgreSQL and SQLite count them: every row it matched (MySQL's own count leaves out the rows
  // it set to what they held). Throws DataError, LockConflict, etl::RetryableError or
  // std::runtime_error (see fail()).
  int64_t run(const std::string& statement, const std::vector<Value>& values = {});
  // Like run(), binding values marked in `binary` as BLOBs.
  int64_t run(const std::string& statement, const std::vector<Value>& values,
              const std::vector<bool>& binary);
  // Like run() without values, over the text protocol: statements MySQL does not prepare (BEGIN,
  // LOCK ...) go too.
  int64_t runText(const std::string& statement);
  // The server's note on the last statement ("Rows matched: 1  Changed: 0  Warnings: 0").
  std::string info();
  // A statement that returns rows; `values` replace its ? placeholders as escaped literals.
  std::vector<Row> query(const std::string& statement, const std::vector<Value>& values = {});
  // The first value of the first row, nullopt when no row (or NULL).
  std::optional<std::string> value(const std::string& statement,
                                   const std::vector<Value>& values = {});
  void rollback();  // if connected; never throws
  // The server's max_allowed_packet, read when connecting: no statement may be longer (a longer
  // one makes the server drop the connection, which would look like an outage forever).
  std::size_t maxPacket() const { return maxPacket_; }
  MYSQL* handle();

 private:
  [[noreturn]] void fail(unsigned code, const std::string& sqlstate, const std::string& message,
                         const std::string& what);
  std::string literal(std::string_view value);
  int64_t counted(const std::string& statement, int64_t affected);  // see run()

  std::string uri_;
  std::optional<MysqlConnection> connection_;
  std::unique_ptr<Poco::Data::Session> session_;
  std::chrono::milliseconds answerTimeout_{600000};
  std::size_t maxPacket_ = 16 << 20;
};

}  // namespace sql
