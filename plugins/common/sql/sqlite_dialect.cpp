// SQLite, the embedded default: its words, its connection as a Session (the C API,
// sqlite_session.h) and its table writer. The same statements as PostgreSQL (SQLite speaks
// INSERT ... ON CONFLICT), rows bound as text with their length into STRICT tables, everything of a
// batch in one IMMEDIATE transaction. A statement SQLite refuses rolls back alone; its row becomes
// a dead letter and the rest of the batch commits.
#include <Poco/Path.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "database.h"
#include "dialects.h"
#include "etl/errors.h"
#include "sqlite_session.h"

namespace sql {

const SqlDialect& sqliteDialect();  // at the end

namespace {

// SQLite's affinity of a declared type name (https://sqlite.org/datatype3.html, 3.1).
std::string affinity(const std::string& declared) {
  std::string t;
  for (char c : declared) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto has = [&](const char* part) { return t.find(part) != std::string::npos; };
  if (has("int")) return "INTEGER";
  if (has("char") || has("clob") || has("text")) return "TEXT";
  if (t.empty() || has("blob")) return "BLOB";
  if (has("real") || has("floa") || has("doub")) return "REAL";
  return "NUMERIC";
}

class SqliteDialect : public SqlDialect {
 public:
  const char* name() const override { return "sqlite"; }
  bool accepts(const std::string& uri) const override { return uri.rfind("sqlite:", 0) == 0; }
  std::unique_ptr<Session> session(const std::string& uri, const std::string& stateDir,
                                   Poco::Logger& logger) const override;
  std::unique_ptr<Database> database(DatabaseOptions options, Poco::Logger& logger) const override;
  std::string placeholder(int i) const override { return "?" + std::to_string(i); }
  // It takes the write lock at once: a deferred transaction that writes later can fail as busy
  // where waiting would have done.
  const char* begin() const override { return "BEGIN IMMEDIATE"; }
  std::string now() const override { return "strftime('%Y-%m-%dT%H:%M:%fZ','now')"; }
  Bound columnsQuery(const std::string& table) const override {
    std::size_t dot = table.rfind('.');
    return {"SELECT name, type FROM pragma_table_info(?1)",
            {dot == std::string::npos ? table : table.substr(dot + 1)}};
  }
  // By storage class: INTEGER, REAL, TEXT (text, exact decimals as written, ISO 8601 times, JSON)
  // or BLOB.
  std::string storageType(const std::string& declared, bool) const override {
    ColumnType type = columnType(declared);
    switch (type.kind) {
      case ValueKind::Integer:
      case ValueKind::Boolean:
        return "INTEGER";
      case ValueKind::Float:
        return "REAL";
      case ValueKind::Unchecked:
        return affinity(type.name) == "BLOB" ? "BLOB" : "TEXT";
      default:
        return "TEXT";
    }
  }
  ColumnType shownType(const std::string& shown) const override {
    ColumnType type = columnType(shown);
    if (type.kind != ValueKind::Integer) return type;
    return columnType("bigint");  // SQLite's INTEGER holds 64 bits
  }
  // SQLite keeps values by storage class: what matters is that the column's affinity leaves the
  // converted value as it is (a column without a type keeps anything).
  bool fits(const ColumnType& declared, const ColumnType&,
            const std::string& shown) const override {
    std::string a = affinity(shown), wanted = storageType(declared.name, false);
    return a == "BLOB" || a == wanted || (a == "NUMERIC" && wanted != "TEXT") ||
           (declared.kind == ValueKind::Numeric && (a == "REAL" || a == "NUMERIC"));
  }
  // One writer at a time: the claim's transaction holds the due rows.
  std::string claimStatement(const std::string& table, const std::string& key,
                             const std::string& set, const std::string& due,
                             const std::vector<std::string>& columns) const override {
    return "UPDATE " + table + set + " WHERE " + key + " IN (" + due + ") RETURNING " + key + ", " +
           jsonObject(columns);
  }
  // With the sqlite3 tool on the file of "sqlite:PATH".
  std::string byHand(const std::string& statements, const std::string& where) const override {
    return "run: sqlite3 " + where.substr(where.find(':') + 1) + " \"" + statements + "\"";
  }
  // STRICT: a value of another type is refused by SQLite too, as by the other databases.
  std::string createOptions() const override { return " STRICT"; }
  StateTypes stateTypes() const override {
    return {"TEXT",
            "TEXT",
            "BLOB",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
            ""};
  }
};

// The Session of a SqliteSession: owned (makeSession) or a view of the table writer's own.
class SqliteConnection : public Session {
 public:
  explicit SqliteConnection(std::string path)
      : owned_(std::make_unique<SqliteSession>(std::move(path))), session_(*owned_) {}
  explicit SqliteConnection(SqliteSession& session) : session_(session) {}
  const SqlDialect& dialect() const override { return sqliteDialect(); }
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

class SqliteDatabase : public Database {
 public:
  SqliteDatabase(DatabaseOptions options, std::string path, Poco::Logger& logger)
      : Database(std::move(options), sqliteDialect(), logger), session_(std::move(path)) {}
  ~SqliteDatabase() override {
    if (lockFd_ >= 0) ::close(lockFd_);
  }

  std::string describe() const override { return "sqlite:" + session_.path(); }

  // A byte of <file>.etlrun-lock, chosen by the pipeline's name, locked as an open file
  // description's lock (F_OFD_SETLK): released when this object (or the process) goes, and, unlike
  // a process's POSIX locks, not by another pipeline closing its own descriptor of the same file.
  std::string claim(const std::string& pipeline) override {
    if (lockFd_ >= 0) return {};
    std::string path = session_.path() + ".etlrun-lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw std::runtime_error("cannot open the lock file " + path + ": " + std::strerror(errno));
    }
    uint64_t hash = 1469598103934665603ULL;  // FNV-1a
    for (unsigned char c : pipeline) hash = (hash ^ c) * 1099511628211ULL;
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = static_cast<off_t>(hash % (1ULL << 40));
    lock.l_len = 1;
    if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
      int error = errno;
      ::close(fd);
      if (error == EAGAIN || error == EACCES) {
        return "another process that stores it in " + session_.path() + " (lock " + path + ")";
      }
      throw std::runtime_error("cannot lock " + path + ": " + std::strerror(error));
    }
    lockFd_ = fd;
    return {};
  }

  // SQLite has one writer at a time (BEGIN IMMEDIATE): a second connection would only wait.
  std::size_t maxWriters() const override { return 1; }

 protected:
  void connect() override {
    session_.open();
    session_.requireWritable();
  }
  std::string opened() const override {
    return "using the embedded SQLite store " + session_.path();
  }
  void disconnect() override {
    statements_.clear();
    letter_.reset();
    session_.close();
  }
  // One IMMEDIATE transaction: concurrent starts wait for each other.
  void lockSchema() override { session_.exec("BEGIN IMMEDIATE"); }
  void unlockSchema(bool prepared) override {
    if (prepared) session_.exec("COMMIT");
  }
  // Inside lockSchema's transaction: several statements in one go.
  void applyMigration(const Migration& m) override { session_.exec(m.statements); }

  // The row statements prepared once: SQLite's only path, so its speed; the dead letters' too.
  void ready() override {
    statements_.clear();
    for (const auto& t : options_.tables) {
      statements_.push_back(
          std::make_unique<SqliteSession::Statement>(session_, rowStatement(t, dialect())));
    }
    letter_ = std::make_unique<SqliteSession::Statement>(
        session_,
        "INSERT OR IGNORE INTO etl_dead_letters (fingerprint, pipeline, plugin, stream, reason, "
        "record, record_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)");
  }
  int64_t storeRow(std::size_t table, const Row& row) override {
    statements_[table]->run(row);
    return statements_[table]->changes();
  }
  bool statementsAreAtomic() const override { return true; }
  void storeLetter(const DeadLetterRow& l, const std::string& pipeline) override {
    letter_->bindBlob(7, l.recordBytes);
    letter_->run({l.fingerprint, pipeline, l.plugin, l.stream, l.reason, l.record});
  }

  Session& connection() override { return view_; }

 private:
  int lockFd_ = -1;  // claim()'s lock, held while this object lives
  SqliteSession session_;
  SqliteConnection view_{session_};
  std::vector<std::unique_ptr<SqliteSession::Statement>> statements_;  // per table: one row
  std::unique_ptr<SqliteSession::Statement> letter_;                   // a dead letter
};

std::unique_ptr<Session> SqliteDialect::session(const std::string& uri, const std::string& stateDir,
                                                Poco::Logger&) const {
  return std::make_unique<SqliteConnection>(*sqlitePathOf(uri, stateDir));
}
std::unique_ptr<Database> SqliteDialect::database(DatabaseOptions options,
                                                  Poco::Logger& logger) const {
  std::string path = *sqlitePathOf(options.uri, options.stateDir);
  return std::make_unique<SqliteDatabase>(std::move(options), std::move(path), logger);
}

}  // namespace

const SqlDialect& sqliteDialect() {
  static const SqliteDialect dialect;
  return dialect;
}

std::optional<std::string> sqlitePathOf(const std::string& uri, const std::string& stateDir) {
  if (uri.rfind("sqlite:", 0) != 0) return std::nullopt;
  std::string path = uri.substr(7);
  if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite:///abs or sqlite://rel
  if (path.empty()) throw std::runtime_error("sqlite: needs a file path (sqlite:etlrun.sqlite)");
  if (Poco::Path(path).isRelative()) path = stateDir + "/" + path;
  return path;
}

}  // namespace sql
