// MariaDB/MySQL: its words, its connection as a Session (Poco::Data's MySQL connector,
// mysql_session.h) and its table writer. Each table's rows go as multi-row INSERT ... VALUES
// (...),(...) statements of about 1 MB (ON DUPLICATE KEY UPDATE for upserts and for skipping a key
// already there), update mode row by row; dead letters and the checkpoint follow in the same InnoDB
// transaction. If the server refuses a row, the batch is redone row by row (Database::writeUnits),
// and only the refused rows become dead letters, as on PostgreSQL.
#include <Poco/MD5Engine.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>

#include "database.h"
#include "dialects.h"
#include "etl/errors.h"
#include "mysql_session.h"

namespace sql {

const SqlDialect& mysqlDialect();  // at the end

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

// A table's statements in MySQL syntax, with the order its row's values bind in (positional ?).
struct TableStatements {
  std::string head;                      // INSERT INTO t (columns) VALUES
  std::string tail;                      // ON DUPLICATE KEY UPDATE ..., or ""
  std::string update;                    // mode update: UPDATE t SET ... WHERE key = ...
  std::vector<std::size_t> updateOrder;  // the row's columns in the UPDATE's placeholder order
};

TableStatements statementsOf(const TableSpec& t) {
  TableStatements s;
  s.head = "INSERT INTO " + quoteIdentifier(t.name) + " (" + columnList(t) + ") VALUES ";
  if (t.mode == Mode::Update) {
    s.update = updateStatement(t, [&](std::size_t i) {
      s.updateOrder.push_back(i);
      return std::string("?");
    });
    return s;
  }
  // Rows go in the batch's order, each seeing the ones before: of several rows with one key the
  // last one's values stay (upsert) or the first one stays (insert), as row by row.
  s.tail = conflictClause(t, mysqlDialect());
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

// The first word of a statement, upper case.
std::string firstWord(const std::string& statement) {
  std::size_t start = 0;
  while (start < statement.size() && !std::isalpha(static_cast<unsigned char>(statement[start]))) {
    ++start;
  }
  std::string word;
  for (std::size_t i = start;
       i < statement.size() &&
       (std::isalnum(static_cast<unsigned char>(statement[i])) || statement[i] == '_');
       ++i) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(statement[i])));
  }
  return word;
}

// MySQL: a statement that is transaction control on its own (a trigger's or procedure's body is
// inside its CREATE statement, kept whole by DELIMITER).
void checkStatement(const Migration& m, const std::string& statement, std::size_t line) {
  static const char* const kControl[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "START", "ABORT"};
  std::string word = firstWord(statement);
  if (std::find(std::begin(kControl), std::end(kControl), word) != std::end(kControl)) {
    throw std::runtime_error("migration " + m.file + ":" + std::to_string(line) + ": " + word +
                             ": transaction control does not belong in a migration (mysql "
                             "runs it statement by statement). Remove it; for a trigger or "
                             "procedure body holding ';', set another delimiter first "
                             "(DELIMITER //), as in the mysql client");
  }
}

// MySQL statements: split at ';', or at the delimiter a "DELIMITER xx" line sets, as the mysql
// client does, so that a trigger or procedure whose body holds ';' stays one statement.
std::vector<std::pair<std::string, std::size_t>> mysqlStatements(const std::string& sql) {
  std::vector<std::pair<std::string, std::size_t>> out;
  std::string delimiter = ";", block;
  std::size_t line = 0, blockStart = 1;
  auto flush = [&] {
    if (delimiter == ";") {
      for (auto& [statement, at] : splitStatements(block)) {
        out.emplace_back(std::move(statement), blockStart + at - 1);
      }
    } else {
      std::size_t from = 0, at;
      while ((at = block.find(delimiter, from)) != std::string::npos || from < block.size()) {
        std::string statement =
            block.substr(from, at == std::string::npos ? std::string::npos : at - from);
        if (statement.find_first_not_of(" \t\r\n") != std::string::npos) {
          std::size_t lead = statement.find_first_not_of(" \t\r\n");
          out.emplace_back(statement.substr(lead),
                           blockStart + static_cast<std::size_t>(std::count(
                                            block.begin(), block.begin() + from + lead, '\n')));
        }
        if (at == std::string::npos) break;
        from = at + delimiter.size();
      }
    }
    block.clear();
  };
  std::size_t pos = 0;
  while (pos <= sql.size()) {
    std::size_t end = sql.find('\n', pos);
    if (end == std::string::npos) end = sql.size();
    std::string text = sql.substr(pos, end - pos);
    ++line;
    std::size_t lead = text.find_first_not_of(" \t");
    if (lead != std::string::npos && text.size() > lead + 10 &&
        firstWord(text.substr(lead)) == "DELIMITER") {
      flush();
      std::string rest = text.substr(lead + 9);
      std::size_t a = rest.find_first_not_of(" \t"), b = rest.find_last_not_of(" \t\r");
      delimiter = a == std::string::npos ? ";" : rest.substr(a, b - a + 1);
      blockStart = line + 1;
    } else {
      block += text + "\n";
    }
    pos = end + 1;
  }
  flush();
  return out;
}

class MysqlDialect : public SqlDialect {
 public:
  const char* name() const override { return "mysql"; }
  bool accepts(const std::string& uri) const override { return isMysqlUri(uri); }
  std::unique_ptr<Session> session(const std::string& uri, const std::string& stateDir,
                                   Poco::Logger& logger) const override;
  std::unique_ptr<Database> database(DatabaseOptions options, Poco::Logger& logger) const override;
  std::string placeholder(int) const override { return "?"; }
  // ON DUPLICATE KEY UPDATE does both; "nothing" is an update of the key to itself, which
  // reports 0 rows changed.
  std::string onConflict(const std::string& key, const std::string& sets) const override {
    if (key.empty()) return "";  // nothing to conflict with
    if (!sets.empty()) return " ON DUPLICATE KEY UPDATE " + sets;
    // The first key column: a quoted name may hold a comma (and "" for a quote).
    std::size_t end = key.find(',');
    if (key[0] == '"') {
      for (end = 1; end < key.size(); ++end) {
        if (key[end] == '"' && (end + 1 == key.size() || key[end + 1] != '"')) break;
        if (key[end] == '"') ++end;
      }
      ++end;
    }
    std::string first = key.substr(0, end);
    return " ON DUPLICATE KEY UPDATE " + first + " = " + first;
  }
  std::string incoming(const std::string& column) const override {
    return "VALUES(" + column + ")";
  }
  std::string now() const override { return "NOW(6)"; }
  std::string isoTimeText(const std::string& column) const override {  // the session's zone is UTC
    return "CONCAT(LEFT(DATE_FORMAT(" + column + ", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')";
  }
  // MySQL reads a backslash in a string literal as an escape: '\\' is one backslash there.
  std::string likeEscape() const override { return " ESCAPE '\\\\'"; }
  // MariaDB shows a JSON column as longtext, DATETIME without a zone: fits() knows.
  Bound columnsQuery(const std::string& table) const override {
    std::size_t dot = table.rfind('.');
    Bound out{
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = " +
            std::string(dot == std::string::npos ? "DATABASE()" : "?") +
            " AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        {}};
    if (dot != std::string::npos) out.values.push_back(table.substr(0, dot));
    out.values.push_back(dot == std::string::npos ? table : table.substr(dot + 1));
    return out;
  }
  // BIGINT, DECIMAL(p,s), DATETIME(6) in UTC, JSON, LONGTEXT, or VARCHAR(255) for a key column,
  // which an index needs bounded.
  std::string storageType(const std::string& declared, bool key) const override {
    ColumnType type = columnType(declared);
    switch (type.kind) {
      case ValueKind::Text:
        return type.maxChars ? "VARCHAR(" + std::to_string(type.maxChars) + ")"
               : key         ? "VARCHAR(255)"
                             : "LONGTEXT";
      case ValueKind::Integer:
        return type.name == "bigint"     ? "BIGINT"
               : type.name == "integer"  ? "INT"
               : type.name == "smallint" ? "SMALLINT"
               : type.name == "tinyint"  ? "TINYINT"
                                         : "MEDIUMINT";
      case ValueKind::Numeric:
        // numeric without precision holds any number in PostgreSQL; MySQL's widest is (65,30).
        return type.precision ? "DECIMAL(" + std::to_string(type.precision) + "," +
                                    std::to_string(type.scale) + ")"
                              : "DECIMAL(65,30)";
      case ValueKind::Float:
        return type.name == "real" ? "FLOAT" : "DOUBLE";
      case ValueKind::Boolean:
        return "BOOLEAN";
      case ValueKind::Timestamp:
      case ValueKind::TimestampTz:
        return "DATETIME(6)";
      case ValueKind::Date:
        return "DATE";
      case ValueKind::Json:
        return "JSON";
      case ValueKind::Unchecked:
        break;
    }
    if (type.name == "bytea") return key ? "VARBINARY(255)" : "LONGBLOB";
    if (type.name == "uuid") return "CHAR(36)";
    return type.name;
  }
  // No zone-aware type (DATETIME holds UTC here), booleans are tinyint(1), MariaDB shows a JSON
  // column as longtext; a text or numeric declared without a bound takes any (a text key is a
  // VARCHAR there: an index needs a bounded length).
  bool fits(const ColumnType& declared, const ColumnType& has, const std::string&) const override {
    auto family = [](ValueKind k) {
      return k == ValueKind::TimestampTz ? ValueKind::Timestamp : k;
    };
    if (declared.kind == ValueKind::Json && has.kind == ValueKind::Text) return true;
    return family(declared.kind) == family(has.kind) &&
           (declared.kind != ValueKind::Integer || declared.name == has.name) &&
           (declared.precision == 0 ||
            (declared.precision == has.precision && declared.scale == has.scale)) &&
           (declared.maxChars == 0 || declared.maxChars == has.maxChars);
  }
  ValueStyle valueStyle() const override {
    ValueStyle style;
    style.plainTimestamps = true;  // DATETIME: "YYYY-MM-DD HH:MM:SS.ffffff" in UTC
    return style;
  }
  std::string createOptions() const override { return kUserTableOptions; }
  // MySQL takes one statement at a time (no multi-statement protocol), and each DDL statement
  // commits by itself: a migration runs statement by statement.
  void readMigration(Migration& m) const override {
    for (auto& [statement, line] : mysqlStatements(m.statements)) {
      checkStatement(m, statement, line);
      m.each.push_back(std::move(statement));
    }
  }
  StateTypes stateTypes() const override {
    return {"VARCHAR(255)",
            "LONGTEXT",
            "LONGBLOB",
            "BIGINT AUTO_INCREMENT PRIMARY KEY",
            "DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)",
            kTableOptions};
  }
};

// The Session of a MysqlSession: owned (makeSession) or a view of the table writer's own.
class MariaDbConnection : public Session {
 public:
  explicit MariaDbConnection(std::string uri)
      : owned_(std::make_unique<MysqlSession>(std::move(uri))), session_(*owned_) {}
  explicit MariaDbConnection(MysqlSession& session) : session_(session) {}
  const SqlDialect& dialect() const override { return mysqlDialect(); }
  std::string describe() const override { return session_.describe(); }
  bool isOpen() const override { return session_.connected(); }
  bool ownsConnection() const override { return owned_ != nullptr; }
  void connect() override {
    session_.connect();
    // A statement given up on (the answer timeout) is ended by the server a second later
    // (MariaDB; MySQL has no such setting for every statement).
    if (timeout_.count() > 0) {
      try {
        session_.runText("SET SESSION max_statement_time = " +
                         std::to_string((timeout_.count() + 1000) / 1000));
      } catch (const std::runtime_error&) {
      }
    }
  }
  Rows query(const std::string& statement, const Values& values) override {
    open();
    return session_.query(statement, values);
  }
  int64_t execute(const std::string& statement, const Values& values) override {
    open();
    return values.empty() ? session_.runText(statement) : session_.run(statement, values);
  }
  void rollback() override { session_.rollback(); }
  void setAnswerTimeout(std::chrono::milliseconds timeout) override {
    timeout_ = timeout;
    session_.setAnswerTimeout(timeout);
  }

 private:
  std::unique_ptr<MysqlSession> owned_;
  MysqlSession& session_;
  std::chrono::milliseconds timeout_{0};  // setAnswerTimeout's, 0: MysqlSession's default
};

class MysqlDatabase : public Database {
 public:
  MysqlDatabase(DatabaseOptions options, Poco::Logger& logger)
      : Database(std::move(options), mysqlDialect(), logger), session_(options_.uri) {
    session_.setAnswerTimeout(options_.answerTimeout);
    for (const auto& t : options_.tables) statements_.push_back(statementsOf(t));
  }

  std::string describe() const override { return session_.describe(); }

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

 protected:
  void connect() override {
    session_.connect();
    // Row lock waits are set by beforeWrite(): a first try never waits, since the holder may be
    // a later batch of this pipeline that waits for this one's turn, which the server cannot see
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
  }
  void disconnect() override { session_.disconnect(); }

  // A named lock: concurrent starts wait for each other. MySQL commits each DDL statement by
  // itself.
  void lockSchema() override {
    if (session_.value("SELECT GET_LOCK(CONCAT(?, DATABASE()), " +
                           std::to_string(kSchemaLockWaitSeconds) + ")",
                       {kSchemaLock}) != std::optional<std::string>("1")) {
      throw etl::RetryableError("the schema lock " + std::string(kSchemaLock) + " of " +
                                describe() + " was not free within " +
                                std::to_string(kSchemaLockWaitSeconds) + " s");
    }
  }
  void unlockSchema(bool prepared) override {
    try {
      session_.query("SELECT RELEASE_LOCK(CONCAT(?, DATABASE()))", {kSchemaLock});
    } catch (...) {
      if (prepared) throw;  // else the connection goes, and the server lets go of its locks
    }
  }

  // Statement by statement: MySQL commits each DDL statement itself, so a migration that fails
  // halfway keeps its first statements (write them to be run again: IF NOT EXISTS).
  void applyMigration(const Migration& m) override {
    for (const auto& statement : m.each) session_.query(statement);
  }

  // schema.table: the schema is a MySQL database; a bare name is in the connection's database.
  static std::pair<std::optional<std::string>, std::string> split(const std::string& name) {
    std::size_t dot = name.rfind('.');
    if (dot == std::string::npos) return {std::nullopt, name};
    return {name.substr(0, dot), name.substr(dot + 1)};
  }

  // The key must be a unique index of exactly its columns (whole columns, not a prefix): without
  // one, every duplicate would be stored, and ON DUPLICATE KEY UPDATE would never fire.
  bool keyIsUnique(const TableSpec& t) override {
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
      if (columns == wanted && !prefixed.count(index)) return true;
    }
    return false;
  }

  // Parallel writers commit in batch order. A first try never waits for a row lock: one that
  // meets a lock gives everything back and says so in its hold() (kWaits, conflicted()), and a
  // later batch waiting for its turn then yields to it (blocking()), so an earlier batch never
  // waits for a later one that waits for it. Tried again once the earlier batches are in, it
  // waits for locks (kLockWaitSeconds): a later batch in its way yields at once, another
  // process's lock is given up on after that long and tried again.
  void beforeWrite(etl::CommitTurn& turn) override {
    setLockWait(0);
    turn.hold(connectionId_);
  }
  void conflicted(etl::CommitTurn& turn) override {
    turn.hold(connectionId_ + kWaits);
    setLockWait(kLockWaitSeconds);
  }
  etl::CommitTurn::Blocking blocking() override {
    return [](const std::vector<std::string>& earlier) {
      return std::any_of(earlier.begin(), earlier.end(), [](const std::string& h) {
        return h.size() >= std::strlen(kWaits) &&
               h.compare(h.size() - std::strlen(kWaits), std::string::npos, kWaits) == 0;
      });
    };
  }

  bool writesBulk(const std::vector<std::vector<Row>>&) const override { return true; }
  void writeBulk(const std::vector<std::vector<Row>>& rows, std::vector<int64_t>& stored) override {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].empty()) continue;
      if (options_.tables[i].mode != Mode::Update) {
        stored[i] = insertRows(i, rows[i]);
        continue;
      }
      for (const auto& row : rows[i]) stored[i] += updateRow(i, row);
    }
  }
  // InnoDB undoes a refused statement alone and the transaction goes on (a deadlock or lock
  // wait, which end more, are LockConflict, not a row's refusal).
  bool statementsAreAtomic() const override { return true; }

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

  int64_t storeRow(std::size_t i, const Row& row) override {
    if (options_.tables[i].mode == Mode::Update) return updateRow(i, row);
    return insertRows(i, {row});
  }

  void storeLetter(const DeadLetterRow& original, const std::string& pipeline) override {
    const std::size_t limit = session_.maxPacket() / 2;
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

  // innodb_lock_wait_timeout for this connection's next statements (MariaDB: 0 is NOWAIT; MySQL 8
  // makes it 1 s), set only when it changes.
  void setLockWait(int seconds) {
    if (lockWait_ == seconds) return;
    session_.query("SET SESSION innodb_lock_wait_timeout = " + std::to_string(seconds));
    lockWait_ = seconds;
  }

  Session& connection() override { return view_; }

 private:
  int lockWait_ = -1;         // as last set (setLockWait); -1: not yet on this connection
  std::string connectionId_;  // CONNECTION_ID(): how the other writers know this one
  MysqlSession session_;
  MariaDbConnection view_{session_};
  std::unique_ptr<MysqlSession> owner_;      // holds the pipeline's owner lock (claim)
  std::vector<TableStatements> statements_;  // per table
};

std::unique_ptr<Session> MysqlDialect::session(const std::string& uri, const std::string&,
                                               Poco::Logger&) const {
  return std::make_unique<MariaDbConnection>(uri);
}
std::unique_ptr<Database> MysqlDialect::database(DatabaseOptions options,
                                                 Poco::Logger& logger) const {
  return std::make_unique<MysqlDatabase>(std::move(options), logger);
}

}  // namespace

const SqlDialect& mysqlDialect() {
  static const MysqlDialect dialect;
  return dialect;
}

}  // namespace sql
