// A database that stores rows into declared tables, exactly once: each batch's rows of every
// table, its dead letters and its checkpoint commit in one transaction. Rows the database refuses
// for their data become dead letters in that same transaction; the rest commits. Two dialects,
// chosen by the connection URI the way JDBC URLs work: postgresql://... (or libpq key=value) and
// sqlite:PATH.
#pragma once

#include <Poco/Logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "column_types.h"
#include "dead_letters.h"
#include "etl/batch.h"
#include "migrations.h"
#include "session.h"
#include "sql_error.h"

namespace sql {

struct Column {
  std::string name;
  std::string type;           // values are checked by it (column_types.h); "" = the table's own
  bool update = true;         // upsert/update: this column is overwritten
  bool keepWhenNull = false;  // upsert/update: a NULL keeps the stored value
};

enum class Mode {
  Insert,  // new keys are inserted; an existing key is ignored (or refused: conflictIsError)
  Upsert,  // new keys are inserted, existing ones updated
  Update,  // existing keys are updated; others are ignored
};

struct TableSpec {
  std::string name;  // may be schema-qualified: analytics.events
  std::vector<Column> columns;
  std::vector<std::string> key;  // the conflict key (a unique constraint of the table)
  Mode mode = Mode::Insert;
  bool conflictIsError = false;  // insert: a duplicate key is a dead letter
};

// A table's values as text (NULL = nullopt), viewing memory the caller keeps alive during write():
// the records themselves for whole-record values, so a batch's raw JSON is never copied per row.
using Row = std::vector<std::optional<std::string_view>>;

// The rows one record gave, in every table: stored whole or not at all (see etl::Record::origin:
// the records a transform made from one input are one unit too). Per table, per row: its unit.
// Units are numbered in the order of the batch's records.
using Units = std::vector<std::vector<uint32_t>>;

struct Refusal {
  std::size_t table = 0, row = 0;
  std::string reason;
};

// Row-by-row writing, written once for every dialect: unit after unit in batch order, each
// unit's rows in table order; a row the database refuses (DataError) undoes its whole unit, and
// the unit's refusals (every row tried, so every reason) become one dead letter.
// A dialect gives how a statement runs and how one row is stored; the savepoints around units
// and rows are standard SQL, written here once.
class RowWriter {
 public:
  using Exec = std::function<void(const std::string& statement)>;
  // Stores one row of `table`; returns the rows it changed. Throws DataError for a refused row.
  using Store = std::function<int64_t(std::size_t table, const Row& row)>;
  // `statementsAreAtomic`: a refused statement leaves no trace (SQLite, InnoDB), so a one-row
  // unit needs no savepoint.
  RowWriter(Exec exec, Store store, bool statementsAreAtomic)
      : exec_(std::move(exec)), store_(std::move(store)), atomic_(statementsAreAtomic) {}
  void savepoint(const std::string& name) { exec_("SAVEPOINT " + name); }
  void rollbackTo(const std::string& name) {  // and release it
    exec_("ROLLBACK TO SAVEPOINT " + name);
    exec_("RELEASE SAVEPOINT " + name);
  }
  void release(const std::string& name) { exec_("RELEASE SAVEPOINT " + name); }
  int64_t run(std::size_t table, const Row& row) { return store_(table, row); }
  bool statementsAreAtomic() const { return atomic_; }

 private:
  Exec exec_;
  Store store_;
  bool atomic_;
};

struct WriteResult {
  std::vector<int64_t> stored;  // per table: rows inserted or updated
  std::vector<Refusal> refused;
  // An earlier try of this batch had committed (only its COMMIT's answer was lost): nothing was
  // written now, and its dead letters are stored already (CheckpointOutcome::AlreadyCommitted).
  bool alreadyCommitted = false;
};

// Adds what was stored to `result.stored` and each refused unit's refusals to `result.refused`
// (in unit order), calling `refusedUnit` with them as each unit is undone.
void writeUnits(const std::vector<std::vector<Row>>& rows, const Units& units, RowWriter& writer,
                WriteResult& result,
                const std::function<void(const std::vector<Refusal>&)>& refusedUnit);

// An earlier batch waits for this batch's open transaction (a dialect's finish() finds out while
// waiting for its turn): roll back, let it commit first.
struct Yield {};

// Writes one batch in its turn among parallel writers, written once for every dialect: `bulk`
// (when given) and, if the database refuses one of its rows (DataError), `rowByRow` once every
// earlier batch has committed (rows one at a time lock in the batch's order). On Yield, or a
// LockConflict (a lock held by a later batch that waits for this one's turn, another process, a
// deadlock the server broke), everything is rolled back, the earlier batches commit first
// (`conflicted` tells the dialect after a LockConflict) and the batch is written again, then
// without yielding: nothing earlier is open any more. Any other error rolls back and is thrown.
using WriteAttempt = std::function<WriteResult(bool mayYield)>;
WriteResult writeInTurn(etl::CommitTurn& turn, Poco::Logger& logger,
                        const std::function<void()>& rollback, const WriteAttempt& bulk,
                        const WriteAttempt& rowByRow, const std::function<void()>& conflicted = {});

// What a batch's transaction commits as its pipeline's checkpoint: the whole state, or each part
// of a partitioned one (etl::Source::partitionedCheckpoint) under (pipeline, part), so that
// processes sharing a pipeline, each owning some parts, never overwrite each other's. Each row is
// compare-and-set: it must still hold what this process committed last (or read when it took the
// part), so a process another one overtook stores nothing (see storeCheckpoint).
struct CheckpointWrite {
  std::string part;                     // "" for the whole checkpoint (etl_checkpoints)
  std::string state;                    // JSON text
  bool checked = false;                 // false: stored whatever is there (no expectation known)
  std::optional<std::string> expected;  // when checked: what must be stored now (nullopt: no row)
};
struct Checkpoint {
  std::vector<CheckpointWrite> writes;
  bool empty() const { return writes.empty(); }
};
// A batch's checkpoint rows: a partitioned one split into its members, each compared with the
// batch's previousCheckpoint; parts that did not move are left alone (throws std::runtime_error
// when a partitioned checkpoint is not a JSON object).
Checkpoint checkpointOf(const etl::Batch& batch);

// A dialect's three checkpoint statements, for storeCheckpoint.
class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // Each returns the rows it changed (0 or 1).
  virtual int64_t upsert(const std::string& pipeline, const CheckpointWrite& w) = 0;
  virtual int64_t insertIfAbsent(const std::string& pipeline, const CheckpointWrite& w) = 0;
  virtual int64_t replaceIf(const std::string& pipeline, const CheckpointWrite& w) = 0;
  virtual std::optional<std::string> stored(const std::string& pipeline,
                                            const std::string& part) = 0;
};
// The statements of CheckpointStore, written once, on a dialect's Session (in its open
// transaction).
class SqlCheckpointStore : public CheckpointStore {
 public:
  explicit SqlCheckpointStore(Session& session) : session_(session), dialect_(session.dialect()) {}
  int64_t upsert(const std::string& pipeline, const CheckpointWrite& w) override;
  int64_t insertIfAbsent(const std::string& pipeline, const CheckpointWrite& w) override;
  int64_t replaceIf(const std::string& pipeline, const CheckpointWrite& w) override;
  std::optional<std::string> stored(const std::string& pipeline, const std::string& part) override;

 private:
  std::string insert(const CheckpointWrite& w, const std::string& onConflict) const;
  std::string placeholder(int n) const;
  const char* now() const;
  Session& session_;
  Dialect dialect_;
};

enum class CheckpointOutcome {
  Stored,
  // This batch's checkpoint is already stored: an earlier try of it committed, and only the
  // answer to its COMMIT was lost. Roll back: its rows are there, once.
  AlreadyCommitted,
};
// Stores the checkpoint in the open transaction. Throws Overtaken when a row holds neither what
// was expected nor this batch's own state: another process stored this pipeline (or part) since.
CheckpointOutcome storeCheckpoint(const std::string& pipeline, const Checkpoint& checkpoint,
                                  CheckpointStore& store);

// Another process stored a later checkpoint of the pipeline (or of a part) than this one knows:
// two processes run one pipeline, or a group member wrote for a partition after losing it. The
// batch must roll back; this process must not go on from its own positions.
class Overtaken : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Stored parts joined into the JSON object the source returned them as.
std::string joinedParts(const std::vector<std::pair<std::string, std::string>>& parts);

struct DatabaseOptions {
  std::string uri;            // postgresql://..., key=value, or sqlite:PATH
  std::string stateDir;       // a relative sqlite: path is relative to it
  std::string migrations;     // folder of versioned SQL files ("" = none)
  bool createTables = false;  // create: auto
  // PostgreSQL: how long one statement may wait for an answer (PgSession::setAnswerTimeout).
  std::chrono::milliseconds answerTimeout{600000};
  std::vector<TableSpec> tables;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual std::string describe() const = 0;
  virtual Dialect dialect() const = 0;
  // Connects if needed; the first time, applies pending migrations (under a lock: concurrent
  // starts apply each once) and creates missing tables (createTables). Throws etl::RetryableError
  // while the database cannot be reached, std::runtime_error for what cannot heal.
  virtual void open() = 0;
  // Written once over connection(), after open():
  // the pipeline's whole checkpoint, or its parts joined (joinedParts); nullopt when neither;
  std::optional<std::string> loadCheckpoint(const std::string& pipeline);
  // the stored dead letters `filter` selects, by id; and their removal (returns how many).
  std::vector<etl::StoredDeadLetter> deadLetters(const etl::DeadLetterFilter& filter);
  std::size_t removeDeadLetters(const std::vector<int64_t>& ids);
  // How many connections may write batches at once (committing in order through `turn`).
  virtual std::size_t maxWriters() const = 0;
  // Makes this process `pipeline`'s only runner on this database while this object lives: ""
  // once it is, otherwise who holds it (see etl::Sink::claim). Throws etl::RetryableError while
  // the database cannot be reached.
  virtual std::string claim(const std::string& pipeline) = 0;
  // `rows[i]` are rows of tables[i], `units[i][r]` the unit of rows[i][r]. `letterFor` turns a
  // refused unit (its refusals) into its dead letter. The transaction commits when `turn` says it
  // is this batch's turn.
  using LetterFor = std::function<DeadLetterRow(const std::vector<Refusal>&)>;
  virtual WriteResult write(const std::vector<std::vector<Row>>& rows, const Units& units,
                            const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                            const Checkpoint& checkpoint, const LetterFor& letterFor,
                            etl::CommitTurn& turn) = 0;

  // Per table, per column: the type its values are converted and checked by before they are
  // written (convertValue). The declared types until open() has read the tables; then, for a
  // column declared without one, the table's own (resolveColumns). Safe from any thread.
  std::vector<std::vector<ColumnType>> columnTypes() const {
    std::lock_guard<std::mutex> lock(typesMutex_);
    return types_;
  }

 protected:
  void setColumnTypes(std::size_t table, std::vector<ColumnType> types) {
    std::lock_guard<std::mutex> lock(typesMutex_);
    if (types_.size() <= table) types_.resize(table + 1);
    types_[table] = std::move(types);
  }
  void declareColumnTypes(const std::vector<TableSpec>& tables) {
    for (std::size_t i = 0; i < tables.size(); ++i) setColumnTypes(i, declaredColumns(tables[i]));
  }
  // The dialect's own connection seen as a Session (sessionOver): what is written once runs on it.
  virtual Session& connection() = 0;
  // Table i of the mapping, at open(): an existing one's columns resolved against the declared
  // types (resolveColumns) and its key checked (checkKey); a missing one created when `create`
  // (create: auto), with `createOptions` after its columns (createStatement).
  void ensureTable(std::size_t i, const TableSpec& t, bool create, const std::string& createOptions,
                   Poco::Logger& logger);
  // The migrations of `dir` not applied yet (etl_schema_migrations), in version order, each
  // applied by the dialect (applyMigration) and recorded (then migrationRecorded).
  void migrate(const std::string& dir, Poco::Logger& logger);
  virtual void applyMigration(const Migration& m) = 0;
  virtual void migrationRecorded() {}
  // Throws unless an existing table's key is one of its unique constraints: without one, every
  // duplicate would be stored (SQLite's ON CONFLICT refuses such a key by itself).
  virtual void checkKey(const TableSpec& /*table*/) {}

 private:
  mutable std::mutex typesMutex_;
  std::vector<std::vector<ColumnType>> types_;
};

// The database a URI names (dialectOf, dialects.h): "sqlite:PATH" (relative paths under
// options.stateDir), mysql:// or mariadb://, anything else PostgreSQL. Nothing is opened yet.
std::unique_ptr<Database> makeDatabase(DatabaseOptions options, Poco::Logger& logger);

// The file of a "sqlite:PATH" URI (a relative path is under `stateDir`); nullopt for any other
// URI. Throws for "sqlite:" without a path.
std::optional<std::string> sqlitePathOf(const std::string& uri, const std::string& stateDir);

// Helpers shared by both dialects (statements.cpp).
std::string quoteIdentifier(const std::string& name);  // "a"."b" for a.b
std::string unqualified(const std::string& name);      // b for a.b, quoted
// The statement storing one row of `table`; placeholders from `placeholder(i)` (0-based).
std::string rowStatement(const TableSpec& table,
                         const std::function<std::string(std::size_t)>& placeholder);
// SELECT id, pipeline, plugin, stream, reason, record, hex of record_bytes, created_at FROM
// etl_dead_letters for `filter`; its parameters are appended to `values`.
std::string deadLetterQuery(const etl::DeadLetterFilter& filter, Dialect dialect,
                            std::vector<std::string>& values);
// A stored dead letter from the query's columns (record_bytes, as hex, wins over record).
etl::StoredDeadLetter storedDeadLetter(const std::vector<std::optional<std::string>>& columns);

// CREATE TABLE IF NOT EXISTS from the declared columns in `dialect`'s types (storageType), with
// `options` after the closing parenthesis (SQLite: " STRICT"; MySQL: engine and collation).
std::string createStatement(const TableSpec& table, Dialect dialect,
                            const std::string& options = "");

}  // namespace sql
