// MariaDB/MySQL: each table's rows go as multi-row INSERT ... VALUES (...),(...) statements of
// about 1 MB (ON DUPLICATE KEY UPDATE for upserts and for skipping a key already there), update
// mode row by row; dead letters and the checkpoint follow in the same InnoDB transaction. If the
// server refuses a row, the batch is redone row by row through writeUnits, and only the refused
// rows become dead letters, as on PostgreSQL.
#include <Poco/MD5Engine.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>

#include "database.h"
#include "etl/errors.h"
#include "mysql_session.h"

namespace sql {
namespace {

// GET_LOCK names are the server's, not a database's: each is followed by the database's name.
constexpr const char* kSchemaLock = "etlrun_schema_";  // GET_LOCK name for schema changes
constexpr int kSchemaLockWaitSeconds = 600;
constexpr std::size_t kPiece = 1 << 20;          // bytes of values per INSERT statement
constexpr std::size_t kMaxPlaceholders = 60000;  // a prepared statement takes at most 65535
constexpr const char* kWaits = " waits";  // a writer's hold() once a lock stopped it (see write())
constexpr int kLockWaitSeconds = 2;       // a writer's wait for a row lock once tried again
constexpr int kIdleInTransactionSeconds = 20;  // a stalled writer's transaction ends then

// etlrun's own tables compare text as bytes ('a' and 'A', 'x' and 'x ' are two pipelines).
constexpr const char* kTableOptions =
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";
// Tables of create: auto compare by code point too, but with the trailing spaces of every _bin
// collation ignored ('x' and 'x ' are one key): MariaDB's JSON columns are utf8mb4_bin, and a
// table in another collation could not compare its text with values taken out of its JSON.
constexpr const char* kUserTableOptions =
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

using Values = std::vector<MysqlSession::Value>;

bool isKey(const TableSpec& t, const std::string& column) {
  return std::find(t.key.begin(), t.key.end(), column) != t.key.end();
}

// A table's statements in MySQL syntax, with the order its row's values bind in (positional ?).
struct TableStatements {
  std::string head;                      // INSERT INTO t (columns) VALUES
  std::string tail;                      // ON DUPLICATE KEY UPDATE ..., or ""
  std::string update;                    // mode update: UPDATE t SET ... WHERE key = ...
  std::vector<std::size_t> updateOrder;  // the row's columns in the UPDATE's placeholder order
};

TableStatements statementsOf(const TableSpec& t) {
  TableStatements s;
  std::string columns;
  for (const auto& c : t.columns)
    columns += (columns.empty() ? "" : ", ") + quoteIdentifier(c.name);
  s.head = "INSERT INTO " + quoteIdentifier(t.name) + " (" + columns + ") VALUES ";
  auto value = [](const Column& c, const std::string& incoming) {
    std::string name = quoteIdentifier(c.name);
    return c.keepWhenNull ? "COALESCE(" + incoming + ", " + name + ")" : incoming;
  };
  if (t.mode == Mode::Update) {
    std::string sets, where;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      if (isKey(t, c.name) || !c.update) continue;
      sets += (sets.empty() ? "" : ", ") + quoteIdentifier(c.name) + " = " + value(c, "?");
      s.updateOrder.push_back(i);
    }
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      if (!isKey(t, t.columns[i].name)) continue;
      where += (where.empty() ? "" : " AND ") + quoteIdentifier(t.columns[i].name) + " = ?";
      s.updateOrder.push_back(i);
    }
    s.update = "UPDATE " + quoteIdentifier(t.name) + " SET " + sets + " WHERE " + where;
    return s;
  }
  if (t.key.empty() || (t.mode == Mode::Insert && t.conflictIsError)) return s;
  // Rows go in the batch's order, each seeing the ones before: of several rows with one key the
  // last one's values stay (upsert) or the first one stays (insert), as row by row.
  std::string sets;
  if (t.mode == Mode::Upsert) {
    for (const auto& c : t.columns) {
      if (!c.update || isKey(t, c.name)) continue;
      std::string name = quoteIdentifier(c.name);
      sets += (sets.empty() ? "" : ", ") + name + " = " + value(c, "VALUES(" + name + ")");
    }
  }
  // Nothing to update: the key set to itself changes nothing (0 rows). Never INSERT IGNORE: it
  // would also turn every data error of the statement into a warning and store a cut value.
  if (sets.empty()) sets = quoteIdentifier(t.key[0]) + " = " + quoteIdentifier(t.key[0]);
  s.tail = " ON DUPLICATE KEY UPDATE " + sets;
  return s;
}

// The owner lock of `pipeline` in the connection's database. Lock names are the whole server's
// and at most 64 characters: the database and pipeline by their digest.
std::string ownerLock(const std::string& database, const std::string& pipeline) {
  Poco::MD5Engine md5;
  md5.update(database);
  md5.update('\0');
  md5.update(pipeline);
  return "etlrun_owner_" + Poco::DigestEngine::digestToHex(md5.digest());
}

class MysqlDatabase : public Database {
 public:
  MysqlDatabase(DatabaseOptions options, Poco::Logger& logger)
      : options_(std::move(options)), session_(options_.uri), logger_(logger) {
    declareColumnTypes(options_.tables);
    session_.setAnswerTimeout(options_.answerTimeout);
    for (const auto& t : options_.tables) statements_.push_back(statementsOf(t));
  }

  std::string describe() const override { return session_.describe(); }
  Dialect dialect() const override { return Dialect::Mysql; }

  void open() override {
    if (session_.connected()) return;
    session_.connect();
    try {
      // Row lock waits are set by write(): a first try never waits, since the holder may be a
      // later batch of this pipeline that waits for this one's turn, which the server cannot see
      // (and which batch holds what is not readable here: MariaDB 10.11's
      // information_schema.INNODB_LOCK_WAITS did not show these waits).
      lockWait_ = -1;
      connectionId_ = session_.value("SELECT CONNECTION_ID()").value_or("0");
      // A writer whose process stalls (stopped, frozen) inside a transaction would hold the
      // checkpoint row's lock for as long as it stalls, and the process that took the pipeline
      // over would wait for it forever: MariaDB ends such a transaction's connection after a
      // while (MySQL has no such setting: there a stalled writer holds on until its connection
      // dies). Our own writer idles in a transaction only between statements.
      try {
        session_.query("SET SESSION idle_transaction_timeout = " +
                       std::to_string(kIdleInTransactionSeconds));
      } catch (const std::runtime_error&) {
      }
      if (!prepared_) prepareSchema();
    } catch (...) {
      session_.disconnect();  // all or nothing: the next attempt starts again
      throw;
    }
    logger_.information("connected to " + describe());
  }

  // GET_LOCK on a connection of its own (the writer's connection comes and goes with its
  // retries): held while that connection lives, released by the server when it ends. The holder
  // is named from the processlist (its connection id, user and client address).
  std::string claim(const std::string& pipeline) override {
    if (owner_ && owner_->connected()) return {};
    owner_ = std::make_unique<MysqlSession>(options_.uri);
    owner_->setAnswerTimeout(options_.answerTimeout);
    owner_->connect();
    std::string name = ownerLock(owner_->value("SELECT DATABASE()").value_or(""), pipeline);
    if (owner_->value("SELECT GET_LOCK(?, 0)", {name}) == std::optional<std::string>("1")) {
      return {};
    }
    auto holder = owner_->value(
        "SELECT CONCAT('connection ', ID, ' of user ', USER, ' from ', HOST, ' (', COMMAND, "
        "' for ', TIME, ' s)') FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)",
        {name});
    owner_.reset();
    return (holder ? *holder : std::string("another connection")) + " on " + describe();
  }

  // Each writer is a connection of its own; they commit in batch order (see write()).
  std::size_t maxWriters() const override { return 64; }

  WriteResult write(const std::vector<std::vector<Row>>& rows, const Units& units,
                    const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                    const Checkpoint& checkpoint, const LetterFor& letterFor,
                    etl::CommitTurn& turn) override {
    open();
    // Parallel writers commit in batch order. A first try never waits for a row lock: one that
    // meets a lock gives everything back and says so in its hold() (kWaits), and a later batch
    // waiting for its turn then yields to it (see finish()), so an earlier batch never waits for a
    // later one that waits for it. Tried again once the earlier batches are in, it waits for locks
    // (kLockWaitSeconds): a later batch in its way yields at once, another process's lock is given
    // up on after that long and tried again.
    setLockWait(0);
    turn.hold(connectionId_);
    return writeInTurn(
        turn, logger_, [this] { session_.rollback(); },
        [&](bool mayYield) {
          return writeBulk(rows, letters, pipeline, checkpoint, turn, mayYield);
        },
        [&](bool mayYield) {
          return writeRowByRow(rows, units, letters, pipeline, checkpoint, letterFor, turn,
                               mayYield);
        },
        [&] {
          turn.hold(connectionId_ + kWaits);
          setLockWait(kLockWaitSeconds);
        });
  }

 private:
  // Internal tables, the user's migrations and create: auto, under one named lock: concurrent
  // starts wait for each other. MySQL commits each DDL statement by itself.
  void prepareSchema() {
    if (session_.value("SELECT GET_LOCK(CONCAT(?, DATABASE()), " +
                           std::to_string(kSchemaLockWaitSeconds) + ")",
                       {kSchemaLock}) != std::optional<std::string>("1")) {
      throw etl::RetryableError("the schema lock " + std::string(kSchemaLock) + " of " +
                                describe() + " was not free within " +
                                std::to_string(kSchemaLockWaitSeconds) + " s");
    }
    try {
      session_.query(std::string(R"(CREATE TABLE IF NOT EXISTS etl_schema_migrations (
          version INT PRIMARY KEY, name VARCHAR(255) NOT NULL,
          applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)))") +
                     kTableOptions);
      session_.query(std::string(R"(CREATE TABLE IF NOT EXISTS etl_checkpoints (
          pipeline VARCHAR(255) PRIMARY KEY, checkpoint LONGTEXT NOT NULL,
          updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)))") +
                     kTableOptions);
      session_.query(std::string(R"(CREATE TABLE IF NOT EXISTS etl_checkpoint_parts (
          pipeline VARCHAR(255) NOT NULL, part VARCHAR(255) NOT NULL, checkpoint LONGTEXT NOT NULL,
          updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
          PRIMARY KEY (pipeline, part)))") +
                     kTableOptions);
      session_.query(std::string(R"(CREATE TABLE IF NOT EXISTS etl_dead_letters (
          id BIGINT AUTO_INCREMENT PRIMARY KEY, fingerprint VARCHAR(64) NOT NULL UNIQUE,
          pipeline VARCHAR(255) NOT NULL, plugin VARCHAR(255) NOT NULL, stream LONGTEXT,
          reason LONGTEXT NOT NULL, record LONGTEXT NOT NULL, record_bytes LONGBLOB,
          created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)))") +
                     kTableOptions);
      if (!options_.migrations.empty()) migrate(options_.migrations, logger_);
      for (std::size_t i = 0; i < options_.tables.size(); ++i) {
        ensureTable(i, options_.tables[i], options_.createTables, kUserTableOptions, logger_);
      }
    } catch (...) {
      try {
        session_.query("SELECT RELEASE_LOCK(CONCAT(?, DATABASE()))", {kSchemaLock});
      } catch (...) {
      }
      throw;
    }
    session_.query("SELECT RELEASE_LOCK(CONCAT(?, DATABASE()))", {kSchemaLock});
    prepared_ = true;
  }

  // Statement by statement: MySQL commits each DDL statement itself, so a migration that fails
  // halfway keeps its first statements (write them to be run again: IF NOT EXISTS).
  // schema.table: the schema is a MySQL database; a bare name is in the connection's database.
  static std::pair<std::optional<std::string>, std::string> split(const std::string& name) {
    std::size_t dot = name.rfind('.');
    if (dot == std::string::npos) return {std::nullopt, name};
    return {name.substr(0, dot), name.substr(dot + 1)};
  }

  // The key must be a unique index of exactly its columns (whole columns, not a prefix): without
  // one, every duplicate would be stored, and ON DUPLICATE KEY UPDATE would never fire.
  void checkKey(const TableSpec& t) override {
    if (t.key.empty()) return;
    auto [schema, table] = split(t.name);
    auto lowered = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    std::set<std::string> wanted;
    for (const auto& k : t.key) wanted.insert(lowered(k));
    std::map<std::string, std::set<std::string>> indexes;
    std::set<std::string> prefixed;
    for (auto& row : session_.query(
             "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL FROM "
             "information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND "
             "TABLE_NAME = ? AND NON_UNIQUE = 0",
             {schema ? MysqlSession::Value(*schema) : std::nullopt, table})) {
      indexes[row[0].value_or("")].insert(lowered(row[1].value_or("")));
      if (row[2] == std::optional<std::string>("1")) prefixed.insert(row[0].value_or(""));
    }
    for (const auto& [index, columns] : indexes) {
      if (columns == wanted && !prefixed.count(index)) return;
    }
    std::string columns;
    for (const auto& k : t.key) columns += (columns.empty() ? "" : ", ") + quoteIdentifier(k);
    throw std::runtime_error(
        "table " + t.name + " in " + describe() + " has no unique key on its key (" + columns +
        "): every duplicate would be stored. Add one (ALTER TABLE " + quoteIdentifier(t.name) +
        " ADD UNIQUE (" + columns + ")), or declare the key the table has");
  }

  // Multi-row INSERTs of about kPiece bytes each, in the batch's order. Returns the rows stored.
  int64_t insertRows(std::size_t i, const std::vector<Row>& rows) {
    const TableSpec& t = options_.tables[i];
    const TableStatements& s = statements_[i];
    std::string one = "(";
    for (std::size_t c = 0; c < t.columns.size(); ++c) one += c ? ", ?" : "?";
    one += ")";
    std::size_t perStatement = std::max<std::size_t>(1, kMaxPlaceholders / t.columns.size());
    int64_t stored = 0;
    std::set<std::vector<std::string>> keys;  // upsert: each key counts once, as on PostgreSQL
    std::vector<std::size_t> keyColumns;
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      if (isKey(t, t.columns[c].name)) keyColumns.push_back(c);
    }
    // A statement never nears max_allowed_packet: half of it at most, and 1 MB pieces.
    const std::size_t limit = session_.maxPacket() / 2;
    const std::size_t piece = std::min(kPiece, limit);
    for (std::size_t start = 0; start < rows.size();) {
      Values values;
      std::string statement = s.head;
      std::size_t bytes = 0, n = 0;
      for (; start < rows.size() && n < perStatement; ++start, ++n) {
        std::size_t rowBytes = 0;
        for (const auto& v : rows[start]) rowBytes += v ? v->size() : 0;
        if (rowBytes > limit) {
          // Sent, it would make the server drop the connection (retried forever): this row's
          // fault, a dead letter once the batch goes row by row.
          throw DataError("a row of " + std::to_string(rowBytes) + " bytes for table " + t.name +
                          " is more than half of the server's max_allowed_packet (" +
                          std::to_string(session_.maxPacket()) +
                          " bytes): raise it (SET GLOBAL max_allowed_packet = ...) to store it");
        }
        if (n > 0 && bytes + rowBytes > piece) break;
        statement += (n ? ", " : "") + one;
        // Converted by the sink already (column_types.h: UTC DATETIMEs, booleans as 1/0).
        for (const auto& v : rows[start]) values.push_back(v);
        bytes += rowBytes;
        if (t.mode == Mode::Upsert) {
          std::vector<std::string> key;
          for (std::size_t c : keyColumns) key.emplace_back(rows[start][c].value_or(""));
          keys.insert(std::move(key));
        }
      }
      int64_t affected = session_.run(statement + s.tail, values);
      // ON DUPLICATE KEY UPDATE counts 1 per row inserted and 2 per row updated (0 unchanged).
      if (t.mode != Mode::Upsert) stored += affected;
    }
    return t.mode == Mode::Upsert ? static_cast<int64_t>(keys.size()) : stored;
  }

  int64_t updateRow(std::size_t i, const Row& row) {
    const TableStatements& s = statements_[i];
    Values values;
    for (std::size_t c : s.updateOrder) values.push_back(row[c]);
    return session_.run(s.update, values);
  }

  int64_t storeRow(std::size_t i, const Row& row) {
    if (options_.tables[i].mode == Mode::Update) return updateRow(i, row);
    return insertRows(i, {row});
  }

  WriteResult writeBulk(const std::vector<std::vector<Row>>& rows,
                        const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                        const Checkpoint& checkpoint, etl::CommitTurn& turn, bool mayYield) {
    WriteResult result;
    result.stored.assign(rows.size(), 0);
    session_.query("START TRANSACTION");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].empty()) continue;
      if (options_.tables[i].mode == Mode::Update) {
        for (const auto& row : rows[i]) result.stored[i] += updateRow(i, row);
      } else {
        result.stored[i] = insertRows(i, rows[i]);
      }
    }
    result.alreadyCommitted = finish(letters, pipeline, checkpoint, turn, mayYield) ==
                              CheckpointOutcome::AlreadyCommitted;
    return result;
  }

  WriteResult writeRowByRow(const std::vector<std::vector<Row>>& rows, const Units& units,
                            const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                            const Checkpoint& checkpoint, const LetterFor& letterFor,
                            etl::CommitTurn& turn, bool mayYield) {
    // InnoDB undoes a refused statement alone and the transaction goes on (a deadlock or lock
    // wait, which end more, are LockConflict, not a row's refusal).
    RowWriter writer([this](const std::string& statement) { session_.query(statement); },
                     [this](std::size_t table, const Row& row) { return storeRow(table, row); },
                     true);
    WriteResult result;
    result.stored.assign(rows.size(), 0);
    std::vector<DeadLetterRow> all = letters;
    session_.query("START TRANSACTION");
    writeUnits(rows, units, writer, result,
               [&](const std::vector<Refusal>& refused) { all.push_back(letterFor(refused)); });
    result.alreadyCommitted =
        finish(all, pipeline, checkpoint, turn, mayYield) == CheckpointOutcome::AlreadyCommitted;
    return result;
  }

  // Dead letters, then (once every earlier batch has committed) the checkpoint and COMMIT. Throws
  // Yield when an earlier batch was stopped by a lock (its hold() says so): it may be one of ours.
  CheckpointOutcome finish(const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                           const Checkpoint& checkpoint, etl::CommitTurn& turn, bool mayYield) {
    const std::size_t limit = session_.maxPacket() / 2;
    for (const auto& original : letters) {
      // A letter the server could not take in one packet would drop the connection, and the
      // batch would be retried forever: its record is kept up to what fits, and says so.
      DeadLetterRow l = original;
      std::size_t size = l.record.size() + (l.recordBytes ? l.recordBytes->size() : 0);
      if (size + l.reason.size() > limit) {
        std::size_t keep = limit > l.reason.size() + 4096 ? limit - l.reason.size() - 4096 : 0;
        keep /= l.recordBytes ? 2 : 1;
        while (keep > 0 && keep < l.record.size() &&
               (static_cast<unsigned char>(l.record[keep]) & 0xC0) == 0x80) {
          --keep;  // not inside a UTF-8 character
        }
        if (l.record.size() > keep) l.record.resize(keep);
        if (l.recordBytes && l.recordBytes->size() > keep) l.recordBytes->resize(keep);
        l.reason += " (the record's first " + std::to_string(keep) + " of " +
                    std::to_string(original.record.size()) +
                    " bytes are kept: the whole would not fit the server's max_allowed_packet)";
      }
      session_.run(
          "INSERT INTO etl_dead_letters (fingerprint, pipeline, plugin, stream, reason, record, "
          "record_bytes) VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE fingerprint = "
          "fingerprint",
          {l.fingerprint, pipeline, l.plugin, l.stream, l.reason, l.record,
           l.recordBytes ? MysqlSession::Value(*l.recordBytes) : std::nullopt},
          {false, false, false, false, false, false, true});
    }
    etl::CommitTurn::Blocking blocking;
    if (mayYield) {
      blocking = [](const std::vector<std::string>& earlier) {
        return std::any_of(earlier.begin(), earlier.end(), [](const std::string& h) {
          return h.size() >= std::strlen(kWaits) &&
                 h.compare(h.size() - std::strlen(kWaits), std::string::npos, kWaits) == 0;
        });
      };
    }
    if (!turn.wait(blocking)) throw Yield{};
    // Only now: every writer updates this one row, so taking its lock earlier would make each
    // batch wait for the one before it.
    SqlCheckpointStore store(*view_);
    if (storeCheckpoint(pipeline, checkpoint, store) == CheckpointOutcome::AlreadyCommitted) {
      session_.rollback();
      logger_.warning(
          "this batch was committed by an earlier try (only the answer to its COMMIT was lost): "
          "its rows are stored once, nothing was written again");
      return CheckpointOutcome::AlreadyCommitted;
    }
    session_.query("COMMIT");
    return CheckpointOutcome::Stored;
  }

  // Statement by statement: MySQL commits each DDL statement by itself.
  void applyMigration(const Migration& m) override {
    for (const auto& statement : m.each) session_.query(statement);
  }

  // innodb_lock_wait_timeout for this connection's next statements (MariaDB: 0 is NOWAIT; MySQL 8
  // makes it 1 s), set only when it changes.
  void setLockWait(int seconds) {
    if (lockWait_ == seconds) return;
    session_.query("SET SESSION innodb_lock_wait_timeout = " + std::to_string(seconds));
    lockWait_ = seconds;
  }

  Session& connection() override { return *view_; }

  DatabaseOptions options_;
  int lockWait_ = -1;         // as last set (setLockWait); -1: not yet on this connection
  std::string connectionId_;  // CONNECTION_ID(): how the other writers know this one
  MysqlSession session_;
  std::unique_ptr<Session> view_ = sessionOver(session_);
  std::unique_ptr<MysqlSession> owner_;  // holds the pipeline's owner lock (claim)
  Poco::Logger& logger_;
  std::vector<TableStatements> statements_;  // per table
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Database> makeMysqlDatabase(DatabaseOptions options, Poco::Logger& logger) {
  return std::make_unique<MysqlDatabase>(std::move(options), logger);
}

}  // namespace sql
