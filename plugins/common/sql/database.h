// A database that stores rows into declared tables, exactly once: each batch's rows of every
// table, its dead letters and its checkpoint commit in one transaction. Rows the database refuses
// for their data become dead letters in that same transaction; the rest commits. Written once;
// each database's own parts are its dialect's (dialects.h), chosen by the connection URI.
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
#include "dialects.h"
#include "etl/batch.h"
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

struct WriteResult {
  std::vector<int64_t> stored;  // per table: rows inserted or updated
  std::vector<Refusal> refused;
  // An earlier try of this batch had committed (only its COMMIT's answer was lost): nothing was
  // written now, and its dead letters are stored already (CheckpointOutcome::AlreadyCommitted).
  bool alreadyCommitted = false;
};

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

enum class CheckpointOutcome {
  Stored,
  // This batch's checkpoint is already stored: an earlier try of it committed, and only the
  // answer to its COMMIT was lost. Roll back: its rows are there, once.
  AlreadyCommitted,
};
// Stores the checkpoint in `session`'s open transaction, each row compare-and-set. Throws Overtaken
// when a row holds neither what was expected nor this batch's own state: another process stored
// this pipeline (or part) since.
CheckpointOutcome storeCheckpoint(const std::string& pipeline, const Checkpoint& checkpoint,
                                  Session& session);

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

// A dialect's table writer. What every database does alike is written here once: open() (its
// schema under the dialect's lock: etlrun's own tables, migrations, the mapped tables), write()
// (bulk if the dialect has a way, row by row after a refusal; dead letters; the checkpoint in
// turn; COMMIT), checkpoints and dead letters. A dialect adds how it connects and locks, its bulk
// path, how one row and one dead letter are stored, and who blocks whom.
class Database {
 public:
  Database(DatabaseOptions options, const SqlDialect& dialect, Poco::Logger& logger);
  virtual ~Database() = default;
  virtual std::string describe() const = 0;
  const SqlDialect& dialect() const { return dialect_; }
  // Connects if needed; the first time, applies pending migrations (under a lock: concurrent
  // starts apply each once) and creates missing tables (createTables). Throws etl::RetryableError
  // while the database cannot be reached, std::runtime_error for what cannot heal.
  void open();
  // The pipeline's whole checkpoint, or its parts joined (joinedParts); nullopt when neither.
  std::optional<std::string> loadCheckpoint(const std::string& pipeline);
  // The stored dead letters `filter` selects, by id; and their removal (returns how many).
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
  WriteResult write(const std::vector<std::vector<Row>>& rows, const Units& units,
                    const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                    const Checkpoint& checkpoint, const LetterFor& letterFor,
                    etl::CommitTurn& turn);

  // Per table, per column: the type its values are converted and checked by before they are
  // written (convertValue). The declared types until open() has read the tables; then, for a
  // column declared without one, the table's own (resolveColumns). Safe from any thread.
  std::vector<std::vector<ColumnType>> columnTypes() const {
    std::lock_guard<std::mutex> lock(typesMutex_);
    return types_;
  }

 protected:
  // The dialect's own connection seen as a Session, a view that never reconnects by itself: what
  // is written once runs on it, in its transaction.
  virtual Session& connection() = 0;
  // Connects the writer's connection with its settings.
  virtual void connect() = 0;
  // Drops it, if connected; never throws.
  virtual void disconnect() = 0;
  // Around the schema's preparation: concurrent starts prepare it one at a time.
  virtual void lockSchema() = 0;
  virtual void unlockSchema(bool prepared) = 0;  // after a rollback when not `prepared`
  // On each new connection, once the schema is there (PostgreSQL: its stage tables and lock
  // settings; SQLite: its prepared row statements).
  virtual void ready() {}
  // What open() logs once connected.
  virtual std::string opened() const { return "connected to " + describe(); }
  // One migration (migrate(): its record follows, then migrationRecorded()).
  virtual void applyMigration(const Migration& m) = 0;
  virtual void migrationRecorded() {}
  // Whether an existing table's key is one of its unique constraints: without one, every
  // duplicate would be stored (SQLite's ON CONFLICT refuses such a key by itself).
  virtual bool keyIsUnique(const TableSpec& /*table*/) { return true; }

  // write()'s parts. Before a batch's first try: say who this writer is in `turn` (hold()).
  virtual void beforeWrite(etl::CommitTurn& /*turn*/) {}
  // The bulk path, when the dialect has one for these rows: every table's rows in the open
  // transaction, adding the rows stored per table to `stored`.
  virtual bool writesBulk(const std::vector<std::vector<Row>>& /*rows*/) const { return false; }
  virtual void writeBulk(const std::vector<std::vector<Row>>& /*rows*/,
                         std::vector<int64_t>& /*stored*/) {}
  // One row of table `table`, by the row statement (rowStatement) unless the dialect has its own.
  // Returns the rows it changed; throws DataError for a refused row.
  virtual int64_t storeRow(std::size_t table, const Row& row);
  // A refused statement leaves no trace and the transaction goes on (SQLite, InnoDB): a one-row
  // unit needs no savepoint.
  virtual bool statementsAreAtomic() const { return false; }
  virtual void storeLetter(const DeadLetterRow& letter, const std::string& pipeline) = 0;
  // While a batch waits for its turn: whether its open transaction blocks one of the earlier
  // batches (holders as they said in hold()). Then it yields: rolls back and writes again after.
  virtual etl::CommitTurn::Blocking blocking() { return {}; }
  // A LockConflict rolled the batch back: it is written again once the earlier ones committed.
  virtual void conflicted(etl::CommitTurn& /*turn*/) {}

  void setColumnTypes(std::size_t table, std::vector<ColumnType> types) {
    std::lock_guard<std::mutex> lock(typesMutex_);
    if (types_.size() <= table) types_.resize(table + 1);
    types_[table] = std::move(types);
  }

  DatabaseOptions options_;
  Poco::Logger& logger_;

 private:
  void prepareSchema();
  // The migrations of `dir` not applied yet (etl_schema_migrations), in version order.
  void migrate(const std::string& dir);
  // Table i of the mapping: an existing one's columns resolved against the declared types
  // (resolveColumns) and its key checked (keyIsUnique); a missing one created when create: auto.
  void ensureTable(std::size_t i);
  // Row by row, unit after unit in batch order, each unit's rows in table order (storeRow). A
  // refused row (DataError) undoes its whole unit, and the unit's refusals (every row tried, so
  // every reason) go to `result.refused` (in unit order) and, as one, to `refusedUnit`. Savepoints
  // guard units of several rows, and single rows where a refused statement leaves a trace
  // (statementsAreAtomic).
  void writeUnits(const std::vector<std::vector<Row>>& rows, const Units& units,
                  WriteResult& result,
                  const std::function<void(const std::vector<Refusal>&)>& refusedUnit);
  WriteResult attempt(const std::vector<std::vector<Row>>& rows, const Units* units,
                      const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                      const Checkpoint& checkpoint, const LetterFor& letterFor,
                      etl::CommitTurn& turn, bool mayYield);

  const SqlDialect& dialect_;
  std::vector<std::string> rowStatements_;  // per table: one row (storeRow), made when first used
  bool prepared_ = false;
  mutable std::mutex typesMutex_;
  std::vector<std::vector<ColumnType>> types_;
};

// The database a URI names (dialectOf): "sqlite:PATH" (relative paths under options.stateDir),
// mysql:// or mariadb://, anything else PostgreSQL. Nothing is opened yet.
std::unique_ptr<Database> makeDatabase(DatabaseOptions options, Poco::Logger& logger);

// The file of a "sqlite:PATH" URI (a relative path is under `stateDir`); nullopt for any other
// URI. Throws for "sqlite:" without a path.
std::optional<std::string> sqlitePathOf(const std::string& uri, const std::string& stateDir);

// Helpers shared by every dialect (database.cpp).
std::string quoteIdentifier(const std::string& name);  // "a"."b" for a.b
std::string unqualified(const std::string& name);      // b for a.b, quoted
std::string quoteLiteral(const std::string& text);     // 'it''s'
// The columns of table `table` as the database shows them (SqlDialect::columnsQuery); none when
// there is no such table.
std::vector<ExistingColumn> existingColumns(Session& session, const std::string& table);
bool isKey(const TableSpec& table, const std::string& column);
std::string columnList(const TableSpec& table);                 // "a", "b"
std::string columnList(const std::vector<std::string>& names);  // the same of names
// The statements of the three modes, written once (rowStatement, PostgreSQL's merge of a staged
// batch, MySQL's multi-row INSERT):
// - an INSERT's end for a key already there: nothing done (insert), refused (conflictIsError: no
//   clause), or the columns an upsert overwrites set to the incoming values
//   (SqlDialect::onConflict, incoming), each kept where the new one is NULL and keepWhenNull;
std::string conflictClause(const TableSpec& table, const SqlDialect& dialect);
// - the UPDATE of mode update: each overwritten column set to `incoming(i)` (i: its column), the
// key
//   columns matched with theirs, `from` after the SET. `incoming` is called in the order the
//   values appear in the text (MySQL's ? are positional);
std::string updateStatement(const TableSpec& table,
                            const std::function<std::string(std::size_t)>& incoming,
                            const std::string& from = "");
// - the statement storing one row of `table` in `dialect`, its values by their 1-based column.
std::string rowStatement(const TableSpec& table, const SqlDialect& dialect);
// SELECT id, pipeline, plugin, stream, reason, record, hex of record_bytes, created_at FROM
// etl_dead_letters for `filter`; its parameters are appended to `values`.
std::string deadLetterQuery(const etl::DeadLetterFilter& filter, const SqlDialect& dialect,
                            std::vector<std::string>& values);
// A stored dead letter from the query's columns (record_bytes, as hex, wins over record).
etl::StoredDeadLetter storedDeadLetter(const std::vector<std::optional<std::string>>& columns);
// CREATE TABLE IF NOT EXISTS from the declared columns in `dialect`'s types (storageType), with
// the dialect's createOptions after the closing parenthesis.
std::string createStatement(const TableSpec& table, const SqlDialect& dialect);

}  // namespace sql
