// PostgreSQL: its words, its connection as a Session (libpq, pg_session.h) and its table writer.
// Each table's rows are COPY'd (text format: the columns' own input functions parse
// timestamps, numerics, booleans, jsonb) into a temp table shaped like the target, then moved with
// one INSERT ... SELECT ... ON CONFLICT (or UPDATE ... FROM) per table; dead letters and the
// checkpoint follow in the same transaction. If the database refuses a row, the batch is redone
// row by row with a savepoint per row, and only the refused rows become dead letters.
#include <unistd.h>

#include <cstring>
#include <memory>

#include "database.h"
#include "dialects.h"
#include "etl/errors.h"
#include "pg_session.h"

namespace sql {

const SqlDialect& postgresDialect();  // at the end

namespace {

constexpr long long kSchemaLock = 7283764101LL;  // pg_advisory_lock key for schema changes
constexpr std::size_t kCopyPiece = 1 << 20;      // COPY data sent at a time
constexpr int kLockTimeoutMs = 2000;             // a writer's longest wait for a row lock
constexpr int kIdleInTransactionMs = 20000;      // a stalled writer's transaction ends then
constexpr int kOwnerLockClass = 1702128754;      // pg_try_advisory_lock(class, hashtext(pipeline))

// COPY text format: backslash, newline, carriage return and tab escaped; NULL is \N.
void copyField(std::string& out, const std::optional<std::string_view>& value) {
  if (!value) {
    out += "\\N";
    return;
  }
  const char* p = value->data();
  const char* end = p + value->size();
  while (p < end) {
    const char* special = p;
    while (special < end && *special != '\\' && *special != '\n' && *special != '\r' &&
           *special != '\t') {
      ++special;
    }
    out.append(p, special);
    if (special == end) break;
    out += *special == '\\' ? "\\\\" : *special == '\n' ? "\\n" : *special == '\r' ? "\\r" : "\\t";
    p = special + 1;
  }
}

class PostgresDialect : public SqlDialect {
 public:
  const char* name() const override { return "postgresql"; }
  bool accepts(const std::string&) const override { return true; }  // the rest: see dialects.h
  std::unique_ptr<Session> session(const std::string& uri, const std::string& stateDir,
                                   Poco::Logger& logger) const override;
  std::unique_ptr<Database> database(DatabaseOptions options, Poco::Logger& logger) const override;
  std::string placeholder(int i) const override { return "$" + std::to_string(i); }
  std::string now() const override { return "now()"; }
  std::string isoTimeText(const std::string& column) const override {
    return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
  }
  std::string hexText(const std::string& column) const override {
    return "encode(" + column + ", 'hex')";
  }
  Bound columnsQuery(const std::string& table) const override {
    return {
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE "
        "a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY "
        "a.attnum",
        {quoteIdentifier(table)}};
  }
  // The declared name as written: text[], uuid, serial and the rest are PostgreSQL's own.
  std::string storageType(const std::string& declared, bool) const override {
    return declared.empty() ? "text" : declared;
  }
  bool fits(const ColumnType& declared, const ColumnType& has, const std::string&) const override {
    return declared.name == has.name ||
           (declared.kind == ValueKind::Json && has.kind == ValueKind::Json);
  }
  bool namesIgnoreCase() const override { return false; }
  std::string claimStatement(const std::string& table, const std::string& key,
                             const std::string& set, const std::string& due,
                             const std::vector<std::string>& columns) const override {
    return "WITH due AS (" + due + lockDue() + ") UPDATE " + table + " t" + set +
           " FROM due WHERE t." + key + " = due." + key + " RETURNING t." + key + ", " +
           jsonObject(columns, "t.");
  }
  std::string jsonObject(const std::vector<std::string>& columns,
                         const std::string& prefix) const override {
    std::string object = SqlDialect::jsonObject(columns, prefix);
    return "json_build_object(" + object.substr(object.find('(') + 1) + "::text";
  }
  // A file that starts with "-- etlrun: no-transaction" runs statement by statement outside a
  // transaction (CREATE INDEX CONCURRENTLY needs it).
  void readMigration(Migration& m) const override {
    m.noTransaction = m.statements.rfind("-- etlrun: no-transaction", 0) == 0;
    if (m.noTransaction) {
      for (auto& [statement, line] : splitStatements(m.statements)) m.each.push_back(statement);
    }
    checkTransactions(m,
                      "; for statements that cannot run in a transaction (CREATE INDEX "
                      "CONCURRENTLY), start the file with the line \"-- etlrun: no-transaction\" "
                      "and make each statement safe to run again");
  }
  StateTypes stateTypes() const override {
    return {"text", "text", "bytea", "bigserial PRIMARY KEY", "timestamptz NOT NULL DEFAULT now()",
            ""};
  }
};

// The Session of a PgSession: owned (makeSession) or a view of the table writer's own.
class PgConnection : public Session {
 public:
  PgConnection(const std::string& uri, Poco::Logger& logger)
      : owned_(std::make_unique<PgSession>(uri, logger)), session_(*owned_) {}
  explicit PgConnection(PgSession& session) : session_(session) {}
  const SqlDialect& dialect() const override { return postgresDialect(); }
  std::string describe() const override { return session_.describe(); }
  bool isOpen() const override { return session_.connected(); }
  bool ownsConnection() const override { return owned_ != nullptr; }
  void connect() override {
    session_.connect();
    // A statement given up on (the answer timeout) is ended by the server a second later: a slow
    // query left running would only load it.
    if (timeout_.count() > 0) {
      session_.tryExec("SET statement_timeout = " + std::to_string(timeout_.count() + 1000));
    }
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
  void setAnswerTimeout(std::chrono::milliseconds timeout) override {
    timeout_ = timeout;
    session_.setAnswerTimeout(timeout);
  }

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
  std::chrono::milliseconds timeout_{0};  // setAnswerTimeout's, 0: PgSession's default
};

class PostgresDatabase : public Database {
 public:
  PostgresDatabase(DatabaseOptions options, Poco::Logger& logger)
      : Database(std::move(options), postgresDialect(), logger), session_(options_.uri, logger) {
    session_.setAnswerTimeout(options_.answerTimeout);
  }

  std::string describe() const override { return session_.describe(); }

  // A session-level advisory lock on a connection of its own (the writers' connections come and
  // go with their retries). Its holder names itself in application_name, which pg_stat_activity
  // shows to the next claimant. If this connection drops, the lock goes with it: the
  // compare-and-set checkpoints still keep a second runner from storing anything twice.
  std::string claim(const std::string& pipeline) override {
    if (owner_ && owner_->connected()) return {};
    owner_ = std::make_unique<PgSession>(options_.uri, logger_);
    owner_->setAnswerTimeout(options_.answerTimeout);
    owner_->connect();
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::string me =
        "etlrun owner of " + pipeline + ": pid " + std::to_string(::getpid()) + " on " + host;
    Result named(
        owner_->params("SELECT set_config('application_name', $1, false)", {me.substr(0, 63)}));
    Result taken(owner_->params("SELECT pg_try_advisory_lock($1, hashtext($2))",
                                {std::to_string(kOwnerLockClass), pipeline}));
    if (taken.value(0, 0) == "t") return {};
    Result holder(owner_->params(
        "SELECT a.application_name || ' (backend ' || a.pid || ', since ' || "
        "to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ')' "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
        "'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = "
        "(hashtext($2)::bigint & 4294967295)::oid AND l.objsubid = 2",
        {std::to_string(kOwnerLockClass), pipeline}));
    owner_.reset();
    return holder.rows() > 0 ? holder.value(0, 0) + " on " + describe()
                             : "another connection to " + describe();
  }

  // Each writer is a connection of its own: the server converts and indexes on one core per
  // connection, so several go past what a single COPY can do.
  std::size_t maxWriters() const override { return 64; }

 protected:
  void connect() override {
    session_.connect();
    // lz4 compresses large jsonb values about twice as fast as the default pglz, and that is
    // the single backend's main cost per row. Servers built without lz4 keep pglz.
    session_.tryExec("SET default_toast_compression = 'lz4'");
  }
  void disconnect() override { session_.disconnect(); }

  void lockSchema() override {
    session_.exec("SELECT pg_advisory_lock(" + std::to_string(kSchemaLock) + ")");
  }
  void unlockSchema(bool prepared) override {
    std::string unlock = "SELECT pg_advisory_unlock(" + std::to_string(kSchemaLock) + ")";
    if (prepared) return session_.exec(unlock);
    try {
      if (session_.connected()) session_.tryExec(unlock);
    } catch (const std::exception&) {
      // the connection is gone, and the server lets go of its lock with it
    }
  }

  void ready() override {
    for (std::size_t i = 0; i < options_.tables.size(); ++i) stageTable(i);
    // A writer never waits for a row lock unboundedly: the holder may be a later batch of this
    // pipeline, waiting in turn for this one (see LockConflict).
    session_.exec("SET lock_timeout = '" + std::to_string(kLockTimeoutMs) + "ms'");
    // A backend whose etlrun was killed stops waiting at once instead of holding its locks
    // until its statement ends (PostgreSQL 14+; older servers do without).
    session_.tryExec("SET client_connection_check_interval = '1s'");
    // A writer whose process stalls (stopped, frozen) inside a transaction would hold the
    // checkpoint row's lock for as long as it stalls, and the process that took the pipeline
    // over would wait for it forever: the server ends such a transaction after a while. Our own
    // writers idle in a transaction only while they wait for their turn; one ended that way
    // writes its batch again.
    session_.exec("SET idle_in_transaction_session_timeout = '" +
                  std::to_string(kIdleInTransactionMs) + "ms'");
  }

  void beforeWrite(etl::CommitTurn& turn) override {
    turn.hold(std::to_string(PQbackendPID(session_.handle())));
  }

  // A lock held too long is given up on (lock_timeout); the holder, if it is a later batch,
  // yields while it waits for its turn or gives up in turn, so the cycle always breaks.
  etl::CommitTurn::Blocking blocking() override {
    return [this](const std::vector<std::string>& earlier) {
      std::string pids;
      for (const auto& pid : earlier) pids += (pids.empty() ? "" : ",") + pid;
      Result r(
          session_.params("SELECT EXISTS (SELECT 1 FROM unnest($1::int[]) AS e(pid) WHERE "
                          "pg_backend_pid() = ANY (pg_blocking_pids(e.pid)))",
                          {"{" + pids + "}"}));
      return r.value(0, 0) == "t";
    };
  }

  void storeLetter(const DeadLetterRow& l, const std::string& pipeline) override {
    Result r(session_.params(
        "INSERT INTO etl_dead_letters (fingerprint, pipeline, plugin, stream, reason, record, "
        "record_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fingerprint) DO NOTHING",
        {l.fingerprint, pipeline, l.plugin, l.stream, l.reason, l.record,
         Param::bytes(l.recordBytes)}));
  }

  // A NUL cannot travel in COPY text; such a batch goes row by row, where the row is refused.
  bool writesBulk(const std::vector<std::vector<Row>>& rows) const override {
    for (const auto& table : rows) {
      for (const auto& row : table) {
        for (const auto& v : row) {
          if (v && std::memchr(v->data(), 0, v->size())) return false;
        }
      }
    }
    return true;
  }

  std::string stage(std::size_t i) const { return "etl_stage_" + std::to_string(i); }

  // A temp table with the target's column types (so COPY parses each value as the target would),
  // plus an ordinal for keeping the last of several rows with one key.
  void stageTable(std::size_t i) {
    const TableSpec& t = options_.tables[i];
    session_.exec("CREATE TEMP TABLE " + stage(i) + " ON COMMIT DELETE ROWS AS SELECT " +
                  columnList(t) + " FROM " + quoteIdentifier(t.name) + " WITH NO DATA");
    if (t.mode != Mode::Insert)
      session_.exec("ALTER TABLE " + stage(i) + " ADD COLUMN etl_ord bigserial");
  }

  // The key must be a unique constraint or index of exactly its columns (no expression, no WHERE):
  // without one, COPY goes straight in and the table keeps every duplicate, and ON CONFLICT
  // (key) fails. SQLite's ON CONFLICT refuses such a key by itself.
  bool keyIsUnique(const TableSpec& t) override {
    std::string keys = "{";
    for (const auto& k : t.key) {
      keys += (keys.size() > 1 ? "," : "") + std::string("\"");
      for (char c : k) keys += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
      keys += "\"";
    }
    keys += "}";
    Result unique(session_.params(
        "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND "
        "i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = "
        "cardinality($2::text[]) AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) "
        "FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY "
        "(i.indkey[0:i.indnkeyatts - 1])) = "
        "(SELECT array_agg(k ORDER BY k) FROM unnest($2::text[]) k))",
        {quoteIdentifier(t.name), keys}));
    return unique.value(0, 0) == "t";
  }

  // COPY of `rows` into `target` ("table (columns)"), in pieces of about 1 MB: memory stays flat
  // whatever the batch holds.
  void copyRows(const std::string& target, const std::vector<Row>& rows) {
    session_.copyStart(target, "(FORMAT text)");
    std::string data;
    data.reserve(kCopyPiece + kCopyPiece / 4);
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (c) data.push_back('\t');
        copyField(data, row[c]);
      }
      data.push_back('\n');
      if (data.size() >= kCopyPiece) {
        session_.copyPut(data);
        data.clear();
      }
    }
    session_.copyPut(data);
    session_.copyEnd(target);
  }

  void writeBulk(const std::vector<std::vector<Row>>& rows, std::vector<int64_t>& stored) override {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].empty()) continue;
      const TableSpec& t = options_.tables[i];
      if (t.mode == Mode::Insert) {
        // New keys, as almost always (a replay or a repeated input is the exception): straight
        // into the table, saving the server a copy of every value. A key already there undoes
        // just this and takes the staged path, which skips it.
        session_.exec("SAVEPOINT etl_direct");
        try {
          copyRows(quoteIdentifier(t.name) + " (" + columnList(t) + ")", rows[i]);
          session_.exec("RELEASE SAVEPOINT etl_direct");
          stored[i] = static_cast<int64_t>(rows[i].size());
          continue;
        } catch (const DataError& e) {
          if (e.state() != "23505") throw;
          session_.exec("ROLLBACK TO SAVEPOINT etl_direct");
        }
      }
      copyRows(stage(i) + " (" + columnList(t) + ")", rows[i]);
      Result r(session_.query(mergeStatement(i)));
      stored[i] = r.affected();
    }
  }

  // Moves a staged batch into its table, as the row statement would one row at a time.
  std::string mergeStatement(std::size_t i) const {
    const TableSpec& t = options_.tables[i];
    // Several rows of one batch with the same key: the last one wins, as it would row by row.
    std::string latest = t.mode == Mode::Insert || t.key.empty()
                             ? "SELECT " + columnList(t) + " FROM " + stage(i)
                             : "SELECT DISTINCT ON (" + columnList(t.key) + ") " + columnList(t) +
                                   " FROM " + stage(i) + " ORDER BY " + columnList(t.key) +
                                   ", etl_ord DESC";
    if (t.mode == Mode::Update) {
      return updateStatement(
          t, [&](std::size_t c) { return "s." + quoteIdentifier(t.columns[c].name); },
          " FROM (" + latest + ") s");
    }
    return "INSERT INTO " + quoteIdentifier(t.name) + " (" + columnList(t) + ") " + latest +
           conflictClause(t, dialect());
  }

  // A migration in a transaction of its own, or ("-- etlrun: no-transaction") statement by
  // statement outside one; either way its record commits with a COMMIT after it.
  void applyMigration(const Migration& m) override {
    if (m.noTransaction) {
      for (const auto& statement : m.each) session_.exec(statement);
    } else {
      session_.exec("BEGIN");
      session_.exec(m.statements);
      return;
    }
    session_.exec("BEGIN");
  }
  void migrationRecorded() override { session_.exec("COMMIT"); }

  Session& connection() override { return view_; }

  PgSession session_;
  PgConnection view_{session_};
  std::unique_ptr<PgSession> owner_;  // holds the pipeline's owner lock (claim)
};

std::unique_ptr<Session> PostgresDialect::session(const std::string& uri, const std::string&,
                                                  Poco::Logger& logger) const {
  return std::make_unique<PgConnection>(uri, logger);
}
std::unique_ptr<Database> PostgresDialect::database(DatabaseOptions options,
                                                    Poco::Logger& logger) const {
  return std::make_unique<PostgresDatabase>(std::move(options), logger);
}

}  // namespace

const SqlDialect& postgresDialect() {
  static const PostgresDialect dialect;
  return dialect;
}

}  // namespace sql
