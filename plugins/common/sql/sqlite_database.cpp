// SQLite, the embedded default: the same tables, the same statements (SQLite speaks
// INSERT ... ON CONFLICT), rows bound as text with their length so the column's affinity converts
// them, everything of a batch in one IMMEDIATE transaction. A statement SQLite refuses rolls back
// alone; its row becomes a dead letter and the rest of the batch commits.
#include <Poco/Path.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "database.h"
#include "etl/errors.h"
#include "sqlite_session.h"

namespace sql {
namespace {

class SqliteDatabase : public Database {
 public:
  SqliteDatabase(DatabaseOptions options, std::string path, Poco::Logger& logger)
      : options_(std::move(options)), session_(std::move(path)), logger_(logger) {
    declareColumnTypes(options_.tables);
  }
  ~SqliteDatabase() override {
    if (lockFd_ >= 0) ::close(lockFd_);
  }

  std::string describe() const override { return "sqlite:" + session_.path(); }
  Dialect dialect() const override { return Dialect::Sqlite; }

  void open() override {
    if (session_.isOpen()) return;
    try {
      session_.open();
      session_.requireWritable();
      prepareSchema();
      for (const auto& t : options_.tables) {
        statements_.push_back(std::make_unique<SqliteSession::Statement>(
            session_, rowStatement(t, [](std::size_t i) { return "?" + std::to_string(i + 1); })));
      }
    } catch (...) {
      statements_.clear();
      session_.close();  // all or nothing: the next attempt starts again
      throw;
    }
    logger_.information("using the embedded SQLite store " + session_.path());
  }

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

  WriteResult write(const std::vector<std::vector<Row>>& rows, const Units& units,
                    const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                    const Checkpoint& checkpoint, const LetterFor& letterFor,
                    etl::CommitTurn& turn) override {
    open();
    // A refused statement is undone by SQLite itself; the transaction stays open.
    RowWriter writer([this](const std::string& statement) { session_.exec(statement); },
                     [this](std::size_t table, const Row& row) {
                       statements_[table]->run(row);
                       return static_cast<int64_t>(statements_[table]->changes());
                     },
                     true);
    WriteResult result;
    result.stored.assign(rows.size(), 0);
    std::vector<DeadLetterRow> all = letters;
    session_.exec("BEGIN IMMEDIATE");
    try {
      writeUnits(rows, units, writer, result,
                 [&](const std::vector<Refusal>& refused) { all.push_back(letterFor(refused)); });
      SqliteSession::Statement letter(
          session_,
          "INSERT OR IGNORE INTO etl_dead_letters (fingerprint, pipeline, plugin, stream, reason, "
          "record, record_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)");
      for (const auto& l : all) {
        letter.bindBlob(7, l.recordBytes);
        letter.run({l.fingerprint, pipeline, l.plugin, l.stream, l.reason, l.record});
      }
      SqlCheckpointStore store(*view_);
      if (storeCheckpoint(pipeline, checkpoint, store) == CheckpointOutcome::AlreadyCommitted) {
        session_.rollback();
        result.alreadyCommitted = true;
        return result;
      }
      turn.wait();  // one writer: at once
      session_.exec("COMMIT");
    } catch (...) {
      session_.rollback();
      throw;
    }
    return result;
  }

 private:
  // Internal tables, the user's migrations and create: auto, in one IMMEDIATE transaction:
  // concurrent starts wait for each other.
  void prepareSchema() {
    session_.exec("BEGIN IMMEDIATE");
    try {
      session_.exec(R"(CREATE TABLE IF NOT EXISTS etl_schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
          CREATE TABLE IF NOT EXISTS etl_checkpoints (
            pipeline TEXT PRIMARY KEY, checkpoint TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
          CREATE TABLE IF NOT EXISTS etl_checkpoint_parts (
            pipeline TEXT NOT NULL, part TEXT NOT NULL, checkpoint TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            PRIMARY KEY (pipeline, part));
          CREATE TABLE IF NOT EXISTS etl_dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL UNIQUE,
            pipeline TEXT NOT NULL, plugin TEXT NOT NULL, stream TEXT, reason TEXT NOT NULL,
            record TEXT NOT NULL, record_bytes BLOB,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));)");
      SqliteSession::Statement column(
          session_,
          "SELECT 1 FROM pragma_table_info('etl_dead_letters') WHERE name = 'record_bytes'");
      if (!column.run({}))
        session_.exec("ALTER TABLE etl_dead_letters ADD COLUMN record_bytes BLOB");
      if (!options_.migrations.empty()) migrate(options_.migrations, logger_);
      for (std::size_t i = 0; i < options_.tables.size(); ++i) {
        // STRICT: a value of another type is refused by SQLite too, as by the other databases.
        ensureTable(i, options_.tables[i], options_.createTables, " STRICT", logger_);
      }
      session_.exec("COMMIT");
    } catch (...) {
      session_.rollback();
      throw;
    }
  }

  // Inside prepareSchema's IMMEDIATE transaction: several statements in one go.
  void applyMigration(const Migration& m) override { session_.exec(m.statements); }

  Session& connection() override { return *view_; }

  DatabaseOptions options_;
  int lockFd_ = -1;  // claim()'s lock, held while this object lives
  SqliteSession session_;
  std::unique_ptr<Session> view_ = sessionOver(session_);
  Poco::Logger& logger_;
  std::vector<std::unique_ptr<SqliteSession::Statement>> statements_;  // per table: one row
};

}  // namespace

std::optional<std::string> sqlitePathOf(const std::string& uri, const std::string& stateDir) {
  if (uri.rfind("sqlite:", 0) != 0) return std::nullopt;
  std::string path = uri.substr(7);
  if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite:///abs or sqlite://rel
  if (path.empty()) throw std::runtime_error("sqlite: needs a file path (sqlite:etlrun.sqlite)");
  if (Poco::Path(path).isRelative()) path = stateDir + "/" + path;
  return path;
}

std::unique_ptr<Database> makeSqliteDatabase(DatabaseOptions options, std::string path,
                                             Poco::Logger& logger) {
  return std::make_unique<SqliteDatabase>(std::move(options), std::move(path), logger);
}

}  // namespace sql
