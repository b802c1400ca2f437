// PostgreSQL: each table's rows are COPY'd (text format: the columns' own input functions parse
// timestamps, numerics, booleans, jsonb) into a temp table shaped like the target, then moved with
// one INSERT ... SELECT ... ON CONFLICT (or UPDATE ... FROM) per table; dead letters and the
// checkpoint follow in the same transaction. If the database refuses a row, the batch is redone
// row by row with a savepoint per row, and only the refused rows become dead letters.
#include <unistd.h>

#include <cstring>
#include <memory>

#include "database.h"
#include "etl/errors.h"
#include "pg_session.h"

namespace sql {
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

class PostgresDatabase : public Database {
 public:
  PostgresDatabase(DatabaseOptions options, Poco::Logger& logger)
      : options_(std::move(options)), session_(options_.uri, logger), logger_(logger) {
    declareColumnTypes(options_.tables);
    session_.setAnswerTimeout(options_.answerTimeout);
    for (const auto& t : options_.tables) {
      statements_.push_back(
          rowStatement(t, [](std::size_t i) { return "$" + std::to_string(i + 1); }));
    }
  }

  std::string describe() const override { return session_.describe(); }
  Dialect dialect() const override { return Dialect::Postgres; }

  void open() override {
    if (session_.connected()) return;
    session_.connect();
    try {
      // lz4 compresses large jsonb values about twice as fast as the default pglz, and that is
      // the single backend's main cost per row. Servers built without lz4 keep pglz.
      session_.tryExec("SET default_toast_compression = 'lz4'");
      if (!prepared_) prepareSchema();
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
    } catch (...) {
      session_.disconnect();  // all or nothing: the next attempt starts again
      throw;
    }
    logger_.information("connected to " + describe());
  }

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

  WriteResult write(const std::vector<std::vector<Row>>& rows, const Units& units,
                    const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                    const Checkpoint& checkpoint, const LetterFor& letterFor,
                    etl::CommitTurn& turn) override {
    open();
    turn.hold(std::to_string(PQbackendPID(session_.handle())));
    WriteAttempt bulk;
    if (copyable(rows)) {
      bulk = [&](bool mayYield) {
        return writeBulk(rows, letters, pipeline, checkpoint, turn, mayYield);
      };
    }
    // A lock held too long is given up on (lock_timeout); the holder, if it is a later batch,
    // yields in its finish() or gives up in turn, so the cycle always breaks.
    return writeInTurn(
        turn, logger_, [this] { session_.rollback(); }, bulk,
        [&](bool mayYield) {
          return writeRowByRow(rows, units, letters, pipeline, checkpoint, letterFor, turn,
                               mayYield);
        });
  }

 private:
  // A NUL cannot travel in COPY text; such a batch goes row by row, where the row is refused.
  static bool copyable(const std::vector<std::vector<Row>>& rows) {
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

  std::string columnList(const TableSpec& t, const std::string& prefix = "") const {
    std::string out;
    for (const auto& c : t.columns)
      out += (out.empty() ? "" : ", ") + prefix + quoteIdentifier(c.name);
    return out;
  }

  // A temp table with the target's column types (so COPY parses each value as the target would),
  // plus an ordinal for keeping the last of several rows with one key.
  void stageTable(std::size_t i) {
    const TableSpec& t = options_.tables[i];
    session_.exec("CREATE TEMP TABLE " + stage(i) + " ON COMMIT DELETE ROWS AS SELECT " +
                  columnList(t) + " FROM " + quoteIdentifier(t.name) + " WITH NO DATA");
    if (t.mode != Mode::Insert)
      session_.exec("ALTER TABLE " + stage(i) + " ADD COLUMN etl_ord bigserial");
  }

  // Internal tables, the user's migrations and create: auto, under one lock.
  void prepareSchema() {
    session_.exec("SELECT pg_advisory_lock(" + std::to_string(kSchemaLock) + ")");
    try {
      session_.exec(R"(CREATE TABLE IF NOT EXISTS etl_schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()))");
      session_.exec(R"(CREATE TABLE IF NOT EXISTS etl_checkpoints (
          pipeline text PRIMARY KEY, checkpoint text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()))");
      session_.exec(R"(CREATE TABLE IF NOT EXISTS etl_checkpoint_parts (
          pipeline text NOT NULL, part text NOT NULL, checkpoint text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, part)))");
      session_.exec(R"(CREATE TABLE IF NOT EXISTS etl_dead_letters (
          id bigserial PRIMARY KEY, fingerprint text NOT NULL UNIQUE, pipeline text NOT NULL,
          plugin text NOT NULL, stream text, reason text NOT NULL, record text NOT NULL,
          record_bytes bytea, created_at timestamptz NOT NULL DEFAULT now()))");
      session_.exec("ALTER TABLE etl_dead_letters ADD COLUMN IF NOT EXISTS record_bytes bytea");
      if (!options_.migrations.empty()) migrate(options_.migrations, logger_);
      for (std::size_t i = 0; i < options_.tables.size(); ++i) {
        ensureTable(i, options_.tables[i], options_.createTables, "", logger_);
      }
    } catch (...) {
      session_.rollback();
      try {
        if (session_.connected()) {
          session_.tryExec("SELECT pg_advisory_unlock(" + std::to_string(kSchemaLock) + ")");
        }
      } catch (const std::exception&) {
        // the connection is gone, and the server lets go of its lock with it
      }
      throw;
    }
    session_.exec("SELECT pg_advisory_unlock(" + std::to_string(kSchemaLock) + ")");
    prepared_ = true;
  }

  // The key must be a unique constraint or index of exactly its columns (no expression, no WHERE):
  // without one, COPY goes straight in and the table keeps every duplicate, and ON CONFLICT
  // (key) fails. SQLite's ON CONFLICT refuses such a key by itself.
  void checkKey(const TableSpec& t) override {
    if (t.key.empty()) return;
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
    if (unique.value(0, 0) == "t") return;
    std::string columns;
    for (const auto& k : t.key) columns += (columns.empty() ? "" : ", ") + quoteIdentifier(k);
    throw std::runtime_error("table " + t.name + " in " + describe() +
                             " has no unique constraint on its key (" + columns +
                             "): every duplicate would be stored. Add one (ALTER TABLE " +
                             quoteIdentifier(t.name) + " ADD UNIQUE (" + columns +
                             ")), or declare the key the table has");
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

  WriteResult writeBulk(const std::vector<std::vector<Row>>& rows,
                        const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                        const Checkpoint& checkpoint, etl::CommitTurn& turn, bool mayYield) {
    WriteResult result;
    result.stored.assign(rows.size(), 0);
    session_.exec("BEGIN");
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
          result.stored[i] = static_cast<int64_t>(rows[i].size());
          continue;
        } catch (const DataError& e) {
          if (e.state() != "23505") throw;
          session_.exec("ROLLBACK TO SAVEPOINT etl_direct");
        }
      }
      copyRows(stage(i) + " (" + columnList(t) + ")", rows[i]);
      Result r(session_.query(mergeStatement(i)));
      result.stored[i] = r.affected();
    }
    result.alreadyCommitted = finish(letters, pipeline, checkpoint, turn, mayYield) ==
                              CheckpointOutcome::AlreadyCommitted;
    return result;
  }

  // Moves a staged batch into its table, as the row statement would one row at a time.
  std::string mergeStatement(std::size_t i) const {
    const TableSpec& t = options_.tables[i];
    std::string key;
    for (const auto& k : t.key) key += (key.empty() ? "" : ", ") + quoteIdentifier(k);
    // Several rows of one batch with the same key: the last one wins, as it would row by row.
    std::string latest = t.mode == Mode::Insert || key.empty()
                             ? "SELECT " + columnList(t) + " FROM " + stage(i)
                             : "SELECT DISTINCT ON (" + key + ") " + columnList(t) + " FROM " +
                                   stage(i) + " ORDER BY " + key + ", etl_ord DESC";
    std::string self = unqualified(t.name);
    auto value = [&](const Column& c, const std::string& incoming) {
      return c.keepWhenNull
                 ? "COALESCE(" + incoming + ", " + self + "." + quoteIdentifier(c.name) + ")"
                 : incoming;
    };
    auto isKey = [&](const Column& c) {
      return std::find(t.key.begin(), t.key.end(), c.name) != t.key.end();
    };
    if (t.mode == Mode::Update) {
      std::string sets, where;
      for (const auto& c : t.columns) {
        std::string name = quoteIdentifier(c.name);
        if (isKey(c)) {
          where += (where.empty() ? "" : " AND ") + self + "." + name + " = s." + name;
        } else if (c.update) {
          sets += (sets.empty() ? "" : ", ") + name + " = " + value(c, "s." + name);
        }
      }
      return "UPDATE " + quoteIdentifier(t.name) + " SET " + sets + " FROM (" + latest +
             ") s WHERE " + where;
    }
    std::string statement =
        "INSERT INTO " + quoteIdentifier(t.name) + " (" + columnList(t) + ") " + latest;
    if (t.mode == Mode::Upsert) {
      std::string sets;
      for (const auto& c : t.columns) {
        if (!c.update || isKey(c)) continue;
        std::string name = quoteIdentifier(c.name);
        sets += (sets.empty() ? "" : ", ") + name + " = " + value(c, "excluded." + name);
      }
      return statement + " ON CONFLICT (" + key + ") DO " +
             (sets.empty() ? "NOTHING" : "UPDATE SET " + sets);
    }
    if (t.conflictIsError) return statement;
    return statement + " ON CONFLICT " + (key.empty() ? "" : "(" + key + ") ") + "DO NOTHING";
  }

  WriteResult writeRowByRow(const std::vector<std::vector<Row>>& rows, const Units& units,
                            const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                            const Checkpoint& checkpoint, const LetterFor& letterFor,
                            etl::CommitTurn& turn, bool mayYield) {
    RowWriter writer(
        [this](const std::string& statement) { session_.exec(statement); },
        [this](std::size_t table, const Row& row) {
          std::vector<Param> values;
          for (const auto& v : row) {
            values.emplace_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
          }
          return static_cast<int64_t>(
              Result(session_.params(statements_[table], values)).affected());
        },
        false);
    WriteResult result;
    result.stored.assign(rows.size(), 0);
    std::vector<DeadLetterRow> all = letters;
    session_.exec("BEGIN");
    writeUnits(rows, units, writer, result,
               [&](const std::vector<Refusal>& refused) { all.push_back(letterFor(refused)); });
    result.alreadyCommitted =
        finish(all, pipeline, checkpoint, turn, mayYield) == CheckpointOutcome::AlreadyCommitted;
    return result;
  }

  // Dead letters, then (once every earlier batch has committed) the checkpoint and COMMIT. Throws
  // Yield when this transaction holds a row lock an earlier batch waits for: they would wait for
  // each other (the server cannot see it: one of the waits is etlrun's).
  CheckpointOutcome finish(const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                           const Checkpoint& checkpoint, etl::CommitTurn& turn, bool mayYield) {
    for (const auto& l : letters) {
      Result r(session_.params(
          "INSERT INTO etl_dead_letters (fingerprint, pipeline, plugin, stream, reason, record, "
          "record_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fingerprint) DO NOTHING",
          {l.fingerprint, pipeline, l.plugin, l.stream, l.reason, l.record,
           Param::bytes(l.recordBytes)}));
    }
    etl::CommitTurn::Blocking blocking;
    if (mayYield) {
      blocking = [this](const std::vector<std::string>& earlier) {
        std::string pids;
        for (const auto& pid : earlier) pids += (pids.empty() ? "" : ",") + pid;
        Result r(
            session_.params("SELECT EXISTS (SELECT 1 FROM unnest($1::int[]) AS e(pid) WHERE "
                            "pg_backend_pid() = ANY (pg_blocking_pids(e.pid)))",
                            {"{" + pids + "}"}));
        return r.value(0, 0) == "t";
      };
    }
    if (!turn.wait(blocking)) throw Yield{};
    // Only now: every writer updates this one row, so taking its lock earlier would make each
    // batch wait for the one before it, or worse, an earlier batch wait for a later one.
    SqlCheckpointStore store(*view_);
    if (storeCheckpoint(pipeline, checkpoint, store) == CheckpointOutcome::AlreadyCommitted) {
      session_.rollback();
      logger_.warning(
          "this batch was committed by an earlier try (only the answer to its COMMIT was lost): "
          "its rows are stored once, nothing was written again");
      return CheckpointOutcome::AlreadyCommitted;
    }
    session_.exec("COMMIT");
    return CheckpointOutcome::Stored;
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

  Session& connection() override { return *view_; }

  DatabaseOptions options_;
  PgSession session_;
  std::unique_ptr<Session> view_ = sessionOver(session_);
  std::unique_ptr<PgSession> owner_;  // holds the pipeline's owner lock (claim)
  Poco::Logger& logger_;
  std::vector<std::string> statements_;  // per table: one row
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Database> makePostgresDatabase(DatabaseOptions options, Poco::Logger& logger) {
  return std::make_unique<PostgresDatabase>(std::move(options), logger);
}

}  // namespace sql
