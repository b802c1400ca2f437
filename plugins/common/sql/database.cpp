// The table writer, checkpoints and dead letters, written once for every dialect (database.h).
#include "database.h"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "dialects.h"
#include "etl/record.h"

namespace sql {

std::string quoteIdentifier(const std::string& name) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    std::string part =
        name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    out += "\"";
    for (char c : part) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    out += "\"";
    if (dot == std::string::npos) return out;
    out += ".";
    start = dot + 1;
  }
}

std::string quoteLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string unqualified(const std::string& name) {
  std::size_t dot = name.rfind('.');
  return quoteIdentifier(dot == std::string::npos ? name : name.substr(dot + 1));
}

bool isKey(const TableSpec& t, const std::string& column) {
  return std::find(t.key.begin(), t.key.end(), column) != t.key.end();
}

std::string columnList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + quoteIdentifier(name);
  return out;
}

std::string columnList(const TableSpec& t) {
  std::string out;
  for (const auto& c : t.columns) out += (out.empty() ? "" : ", ") + quoteIdentifier(c.name);
  return out;
}

namespace {

// What column `c` of `t` is set to from `incoming`: kept where the new value is NULL
// (keepWhenNull).
std::string setValue(const TableSpec& t, const Column& c, const std::string& incoming) {
  if (!c.keepWhenNull) return incoming;
  return "COALESCE(" + incoming + ", " + unqualified(t.name) + "." + quoteIdentifier(c.name) + ")";
}

}  // namespace

std::string conflictClause(const TableSpec& t, const SqlDialect& dialect) {
  if (t.mode == Mode::Insert && t.conflictIsError) return "";
  std::string sets;
  for (const auto& c : t.columns) {
    if (t.mode != Mode::Upsert || !c.update || isKey(t, c.name)) continue;
    std::string name = quoteIdentifier(c.name);
    sets += (sets.empty() ? "" : ", ") + name + " = " + setValue(t, c, dialect.incoming(name));
  }
  return dialect.onConflict(columnList(t.key), sets);
}

std::string updateStatement(const TableSpec& t,
                            const std::function<std::string(std::size_t)>& incoming,
                            const std::string& from) {
  std::string sets, where;
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const Column& c = t.columns[i];
    if (!c.update || isKey(t, c.name)) continue;
    sets +=
        (sets.empty() ? "" : ", ") + quoteIdentifier(c.name) + " = " + setValue(t, c, incoming(i));
  }
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (!isKey(t, t.columns[i].name)) continue;
    where += (where.empty() ? "" : " AND ") + unqualified(t.name) + "." +
             quoteIdentifier(t.columns[i].name) + " = " + incoming(i);
  }
  return "UPDATE " + quoteIdentifier(t.name) + " SET " + sets + from + " WHERE " + where;
}

std::string rowStatement(const TableSpec& t, const SqlDialect& dialect) {
  auto placeholder = [&](std::size_t i) { return dialect.placeholder(static_cast<int>(i + 1)); };
  if (t.mode == Mode::Update) return updateStatement(t, placeholder);
  std::string values;
  for (std::size_t i = 0; i < t.columns.size(); ++i) values += (i ? ", " : "") + placeholder(i);
  return "INSERT INTO " + quoteIdentifier(t.name) + " (" + columnList(t) + ") VALUES (" + values +
         ")" + conflictClause(t, dialect);
}

std::string deadLetterQuery(const etl::DeadLetterFilter& filter, const SqlDialect& dialect,
                            std::vector<std::string>& values) {
  auto placeholder = [&](std::size_t i) { return dialect.placeholder(static_cast<int>(i)); };
  std::string where;
  auto add = [&](const std::string& condition, const std::string& value) {
    values.push_back(value);
    where += (where.empty() ? " WHERE " : " AND ") + condition + placeholder(values.size());
  };
  if (filter.id) add("id = ", std::to_string(filter.id));
  if (filter.afterId) add("id > ", std::to_string(filter.afterId));
  if (!filter.pipeline.empty()) add("pipeline = ", filter.pipeline);
  if (!filter.plugin.empty()) add("plugin = ", filter.plugin);
  if (!filter.reasonContains.empty()) {
    std::string pattern = "%";
    for (char c : filter.reasonContains) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    values.push_back(pattern + "%");
    where += std::string(where.empty() ? " WHERE " : " AND ") + "reason LIKE " +
             placeholder(values.size()) + dialect.likeEscape();
  }
  if (!filter.createdBefore.empty()) add("created_at < ", filter.createdBefore);
  return "SELECT id, pipeline, plugin, coalesce(stream, ''), reason, record, " +
         dialect.hexText("record_bytes") + ", " + dialect.isoTimeText("created_at") +
         " FROM etl_dead_letters" + where + " ORDER BY id" +
         (filter.limit ? " LIMIT " + std::to_string(filter.limit) : "");
}

etl::StoredDeadLetter storedDeadLetter(const std::vector<std::optional<std::string>>& c) {
  etl::StoredDeadLetter letter;
  letter.id = std::stoll(c.at(0).value_or("0"));
  letter.pipeline = c.at(1).value_or("");
  letter.plugin = c.at(2).value_or("");
  letter.stream = c.at(3).value_or("");
  letter.reason = c.at(4).value_or("");
  letter.record = c.at(5).value_or("");
  if (c.at(6) && !c.at(6)->empty()) {
    const std::string& hex = *c.at(6);
    auto digit = [](char h) { return h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10; };
    letter.record.clear();
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      letter.record.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
    }
  }
  letter.createdAt = c.at(7).value_or("");
  return letter;
}

std::string createStatement(const TableSpec& t, const SqlDialect& dialect) {
  std::string body;
  for (const auto& c : t.columns) {
    body += (body.empty() ? "" : ", ") + quoteIdentifier(c.name) + " " +
            dialect.storageType(c.type, isKey(t, c.name));
  }
  if (!t.key.empty()) body += ", PRIMARY KEY (" + columnList(t.key) + ")";
  return "CREATE TABLE IF NOT EXISTS " + quoteIdentifier(t.name) + " (" + body + ")" +
         dialect.createOptions();
}

namespace {

// A partitioned checkpoint's members, as JSON text each.
std::vector<std::pair<std::string, std::string>> partsOf(const std::string& checkpoint) {
  std::vector<std::pair<std::string, std::string>> parts;
  if (checkpoint.empty()) return parts;
  Poco::JSON::Object::Ptr object;
  try {
    object = Poco::JSON::Parser().parse(checkpoint).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("a partitioned checkpoint is not a JSON object: " + e.displayText());
  }
  if (!object) throw std::runtime_error("a partitioned checkpoint is not a JSON object");
  for (const auto& [part, value] : *object) {
    std::ostringstream state;
    Poco::JSON::Stringifier::stringify(value, state);
    parts.emplace_back(part, state.str());
  }
  return parts;
}

std::optional<std::string> firstValue(const Session::Rows& rows) {
  return rows.empty() || rows[0].empty() ? std::nullopt : rows[0][0];
}

std::string shortened(const std::string& state) {
  return state.size() <= 120 ? state : state.substr(0, 117) + "...";
}

}  // namespace

Checkpoint checkpointOf(const etl::Batch& batch) {
  Checkpoint out;
  if (batch.checkpoint.empty()) return out;
  const auto& previous = batch.previousCheckpoint;
  if (!batch.checkpointParts) {
    CheckpointWrite w{"", batch.checkpoint, previous.has_value(), std::nullopt};
    if (previous && !previous->empty()) w.expected = *previous;
    out.writes.push_back(std::move(w));
    return out;
  }
  std::map<std::string, std::string> before;
  if (previous) {
    for (auto& [part, state] : partsOf(*previous)) before[part] = std::move(state);
  }
  for (auto& [part, state] : partsOf(batch.checkpoint)) {
    CheckpointWrite w{part, std::move(state), previous.has_value(), std::nullopt};
    auto found = before.find(w.part);
    if (found != before.end()) {
      if (found->second == w.state) continue;  // it did not move: nothing to store
      w.expected = found->second;
    }
    out.writes.push_back(std::move(w));
  }
  return out;
}

namespace {

// A checkpoint row's INSERT (etl_checkpoints, or etl_checkpoint_parts for a part), its values
// pipeline, checkpoint[, part]; `sets` for a row already there ("": left as it is).
std::string checkpointInsert(const SqlDialect& d, const CheckpointWrite& w,
                             const std::string& sets) {
  std::string values = d.placeholder(1) + ", " + d.placeholder(2);
  if (w.part.empty()) {
    return "INSERT INTO etl_checkpoints (pipeline, checkpoint) VALUES (" + values + ")" +
           d.onConflict("pipeline", sets);
  }
  return "INSERT INTO etl_checkpoint_parts (pipeline, checkpoint, part) VALUES (" + values + ", " +
         d.placeholder(3) + ")" + d.onConflict("pipeline, part", sets);
}

struct Yield {};  // see Database::write

}  // namespace

CheckpointOutcome storeCheckpoint(const std::string& pipeline, const Checkpoint& checkpoint,
                                  Session& session) {
  const SqlDialect& d = session.dialect();
  std::size_t already = 0;
  for (const auto& w : checkpoint.writes) {
    bool whole = w.part.empty();
    std::string table = whole ? "etl_checkpoints" : "etl_checkpoint_parts";
    Session::Values values{pipeline, w.state};
    if (!whole) values.push_back(w.part);
    if (!w.checked) {
      session.execute(
          checkpointInsert(
              d, w, "checkpoint = " + d.incoming("checkpoint") + ", updated_at = " + d.now()),
          values);
      continue;
    }
    int64_t changed;
    if (w.expected) {
      Session::Values replace{w.state, pipeline, *w.expected};
      if (!whole) replace.push_back(w.part);
      changed = session.execute("UPDATE " + table + " SET checkpoint = " + d.placeholder(1) +
                                    ", updated_at = " + d.now() + " WHERE pipeline = " +
                                    d.placeholder(2) + " AND checkpoint = " + d.placeholder(3) +
                                    (whole ? "" : " AND part = " + d.placeholder(4)),
                                replace);
    } else {
      changed = session.execute(checkpointInsert(d, w, ""), values);
    }
    if (changed == 1) continue;
    Session::Values which{pipeline};
    if (!whole) which.push_back(w.part);
    std::optional<std::string> now = firstValue(
        session.query("SELECT checkpoint FROM " + table + " WHERE pipeline = " + d.placeholder(1) +
                          (whole ? "" : " AND part = " + d.placeholder(2)),
                      which));
    if (now == w.state && w.state != w.expected) {
      ++already;
      continue;
    }
    std::string what =
        whole ? "the checkpoint of pipeline '" + pipeline + "'"
              : "the checkpoint of part '" + w.part + "' of pipeline '" + pipeline + "'";
    throw Overtaken(
        what + " moved on under this process: it holds " +
        (now ? shortened(*now) : std::string("nothing")) + " where this process " +
        (w.expected ? "stored or read " + shortened(*w.expected) : std::string("found none")) +
        ". Another process stored it meanwhile (two processes running one pipeline, "
        "or a group member that lost this partition while it stalled). This batch "
        "was rolled back, so nothing is stored twice; this process stops. Run one "
        "process per pipeline; a restart resumes from what is stored");
  }
  if (already == 0) return CheckpointOutcome::Stored;
  if (already != checkpoint.writes.size()) {
    throw Overtaken("the checkpoint of pipeline '" + pipeline +
                    "' is partly this batch's and partly not: another process stored some of "
                    "its parts meanwhile. This batch was rolled back; this process stops");
  }
  return CheckpointOutcome::AlreadyCommitted;
}

Database::Database(DatabaseOptions options, const SqlDialect& dialect, Poco::Logger& logger)
    : options_(std::move(options)), logger_(logger), dialect_(dialect) {
  for (std::size_t i = 0; i < options_.tables.size(); ++i) {
    setColumnTypes(i, declaredColumns(options_.tables[i]));
  }
}

void Database::open() {
  if (connection().isOpen()) return;
  try {
    connect();
    if (!prepared_) prepareSchema();
    ready();
  } catch (...) {
    connection().rollback();
    disconnect();  // all or nothing: the next attempt starts again, the schema's check too
    prepared_ = false;
    throw;
  }
  logger_.information(opened());
}

std::vector<ExistingColumn> existingColumns(Session& session, const std::string& table) {
  Bound columns = session.dialect().columnsQuery(table);
  std::vector<ExistingColumn> existing;
  for (auto& row : session.query(columns.statement,
                                 Session::Values(columns.values.begin(), columns.values.end()))) {
    existing.push_back({row[0].value_or(""), row[1].value_or("")});
  }
  return existing;
}

// etlrun's own tables in the dialect's types, the user's migrations and the mapped tables, under
// the dialect's schema lock.
void Database::prepareSchema() {
  Session& session = connection();
  lockSchema();
  try {
    auto types = dialect_.stateTypes();
    std::string key(types.key), text(types.text), time(types.time), bytes(types.bytes);
    std::string end = std::string(")") + types.options;
    session.execute(
        "CREATE TABLE IF NOT EXISTS etl_schema_migrations (version integer PRIMARY KEY, name " +
        key + " NOT NULL, applied_at " + time + end);
    session.execute("CREATE TABLE IF NOT EXISTS etl_checkpoints (pipeline " + key +
                    " PRIMARY KEY, checkpoint " + text + " NOT NULL, updated_at " + time + end);
    session.execute("CREATE TABLE IF NOT EXISTS etl_checkpoint_parts (pipeline " + key +
                    " NOT NULL, part " + key + " NOT NULL, checkpoint " + text +
                    " NOT NULL, updated_at " + time + ", PRIMARY KEY (pipeline, part)" + end);
    session.execute("CREATE TABLE IF NOT EXISTS etl_dead_letters (id " + std::string(types.id) +
                    ", fingerprint " + key + " NOT NULL UNIQUE, pipeline " + key +
                    " NOT NULL, plugin " + key + " NOT NULL, stream " + text + ", reason " + text +
                    " NOT NULL, record " + text + " NOT NULL, record_bytes " + bytes +
                    ", created_at " + time + end);
    // Stores made before dead letters kept their exact bytes lack the column.
    auto letters = existingColumns(session, "etl_dead_letters");
    if (std::none_of(letters.begin(), letters.end(),
                     [](const ExistingColumn& c) { return c.name == "record_bytes"; })) {
      session.execute("ALTER TABLE etl_dead_letters ADD COLUMN record_bytes " + bytes);
    }
    if (!options_.migrations.empty()) migrate(options_.migrations);
    for (std::size_t i = 0; i < options_.tables.size(); ++i) ensureTable(i);
  } catch (...) {
    session.rollback();
    unlockSchema(false);
    throw;
  }
  unlockSchema(true);
  prepared_ = true;
}

std::optional<std::string> Database::loadCheckpoint(const std::string& pipeline) {
  open();
  Session& session = connection();
  auto whole = session.query(
      "SELECT checkpoint FROM etl_checkpoints WHERE pipeline = " + dialect_.placeholder(1),
      {pipeline});
  if (!whole.empty()) return whole[0][0].value_or("");
  std::vector<std::pair<std::string, std::string>> parts;
  for (auto& row : session.query("SELECT part, checkpoint FROM etl_checkpoint_parts WHERE "
                                 "pipeline = " +
                                     dialect_.placeholder(1) + " ORDER BY part",
                                 {pipeline})) {
    parts.emplace_back(row[0].value_or(""), row[1].value_or(""));
  }
  if (parts.empty()) return std::nullopt;
  return joinedParts(parts);
}

void Database::migrate(const std::string& dir) {
  Session& session = connection();
  for (const auto& m : readMigrations(dir, dialect_)) {
    std::string version = std::to_string(m.version);
    if (!session
             .query(
                 "SELECT 1 FROM etl_schema_migrations WHERE version = " + dialect_.placeholder(1),
                 {version})
             .empty()) {
      continue;
    }
    try {
      applyMigration(m);
    } catch (const std::exception& e) {
      throw std::runtime_error("migration " + m.file + " failed: " + e.what());
    }
    session.execute("INSERT INTO etl_schema_migrations (version, name) VALUES (" +
                        dialect_.placeholder(1) + ", " + dialect_.placeholder(2) + ")",
                    {version, m.name});
    migrationRecorded();
    logger_.information("applied migration " + version + ": " + m.name);
  }
}

void Database::ensureTable(std::size_t i) {
  const TableSpec& t = options_.tables[i];
  auto existing = existingColumns(connection(), t.name);
  if (!existing.empty()) {
    if (!t.key.empty() && !keyIsUnique(t)) {
      std::string key = columnList(t.key);
      throw std::runtime_error(
          "table " + t.name + " in " + describe() + " has no unique constraint on its key (" + key +
          "): every duplicate would be stored. Add one (ALTER TABLE " + quoteIdentifier(t.name) +
          " ADD UNIQUE (" + key + ")), or declare the key the table has");
    }
    setColumnTypes(i, resolveColumns(t, existing, dialect_, describe()));
    return;
  }
  if (!options_.createTables) {
    throw std::runtime_error("table " + t.name + " does not exist in " + describe() +
                             ": create it in a migration, or set create: auto");
  }
  connection().execute(createStatement(t, dialect_));
  logger_.information("created table " + t.name + " (create: auto)");
}

std::vector<etl::StoredDeadLetter> Database::deadLetters(const etl::DeadLetterFilter& filter) {
  open();
  std::vector<std::string> values;
  std::string query = deadLetterQuery(filter, dialect_, values);
  std::vector<etl::StoredDeadLetter> out;
  for (auto& row : connection().query(query, Session::Values(values.begin(), values.end()))) {
    out.push_back(storedDeadLetter(row));
  }
  return out;
}

std::size_t Database::removeDeadLetters(const std::vector<int64_t>& ids) {
  if (ids.empty()) return 0;
  open();
  Session& session = connection();
  std::size_t removed = 0;
  session.execute(dialect_.begin());
  try {
    // Ids are numbers: written into the statement, ten thousand at a time.
    for (std::size_t from = 0; from < ids.size(); from += 10000) {
      std::string list;
      for (std::size_t i = from; i < ids.size() && i < from + 10000; ++i) {
        list += (list.empty() ? "" : ",") + std::to_string(ids[i]);
      }
      removed += static_cast<std::size_t>(
          session.execute("DELETE FROM etl_dead_letters WHERE id IN (" + list + ")"));
    }
    session.execute("COMMIT");
  } catch (...) {
    session.rollback();
    throw;
  }
  return removed;
}

int64_t Database::storeRow(std::size_t table, const Row& row) {
  if (rowStatements_.empty()) {  // SQLite and MySQL have their own
    for (const auto& t : options_.tables) rowStatements_.push_back(rowStatement(t, dialect_));
  }
  return connection().execute(rowStatements_[table], row);
}

// Bulk when the dialect has a way for these rows, and if the database refuses one of their rows
// (DataError), row by row once every earlier batch has committed (rows one at a time lock in the
// batch's order). On Yield, or a LockConflict (a lock held by a later batch that waits for this
// one's turn, another process, a deadlock the server broke), everything is rolled back, the
// earlier batches commit first (conflicted() tells the dialect after a LockConflict) and the batch
// is written again, then without yielding: nothing earlier is open any more. Any other error rolls
// back and is thrown.
WriteResult Database::write(const std::vector<std::vector<Row>>& rows, const Units& units,
                            const std::vector<DeadLetterRow>& letters, const std::string& pipeline,
                            const Checkpoint& checkpoint, const LetterFor& letterFor,
                            etl::CommitTurn& turn) {
  open();
  beforeWrite(turn);
  bool bulk = writesBulk(rows);
  for (bool mayYield = true;; mayYield = false) {
    try {
      if (bulk) {
        try {
          return attempt(rows, nullptr, letters, pipeline, checkpoint, letterFor, turn, mayYield);
        } catch (const DataError& e) {
          connection().rollback();
          logger_.warning(std::string("batch refused (") + e.what() + "): storing it row by row");
          bulk = false;
          turn.wait();
        }
      }
      return attempt(rows, &units, letters, pipeline, checkpoint, letterFor, turn, mayYield);
    } catch (const Yield&) {
      connection().rollback();
      turn.wait();
    } catch (const LockConflict& e) {
      connection().rollback();
      logger_.debug(std::string("lock conflict, writing the batch again: ") + e.what());
      conflicted(turn);
      turn.wait();
    } catch (...) {
      connection().rollback();
      throw;
    }
  }
}

// One try in one transaction: the rows (bulk, or row by row when `units` are given), the dead
// letters, then, once every earlier batch has committed, the checkpoint and COMMIT. Throws Yield
// when this transaction blocks an earlier batch while it waits for its turn: they would wait for
// each other (the server cannot see it: one of the waits is etlrun's).
WriteResult Database::attempt(const std::vector<std::vector<Row>>& rows, const Units* units,
                              const std::vector<DeadLetterRow>& letters,
                              const std::string& pipeline, const Checkpoint& checkpoint,
                              const LetterFor& letterFor, etl::CommitTurn& turn, bool mayYield) {
  Session& session = connection();
  WriteResult result;
  result.stored.assign(rows.size(), 0);
  std::vector<DeadLetterRow> refused;
  session.execute(dialect_.begin());
  if (units) {
    writeUnits(rows, *units, result,
               [&](const std::vector<Refusal>& unit) { refused.push_back(letterFor(unit)); });
  } else {
    writeBulk(rows, result.stored);
  }
  for (const auto& l : letters) storeLetter(l, pipeline);
  for (const auto& l : refused) storeLetter(l, pipeline);
  if (!turn.wait(mayYield ? blocking() : etl::CommitTurn::Blocking{})) throw Yield{};
  // Only now: every writer updates the checkpoint row, so taking its lock earlier would make each
  // batch wait for the one before it, or worse, an earlier batch wait for a later one.
  if (storeCheckpoint(pipeline, checkpoint, session) == CheckpointOutcome::AlreadyCommitted) {
    session.rollback();
    logger_.warning(
        "this batch was committed by an earlier try (only the answer to its COMMIT was lost): "
        "its rows are stored once, nothing was written again");
    result.alreadyCommitted = true;
    return result;
  }
  session.execute("COMMIT");
  return result;
}

std::string joinedParts(const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string out = "{";
  for (const auto& [part, state] : parts) {
    if (out.size() > 1) out += ',';
    etl::appendJsonString(out, part);
    out += ':' + state;
  }
  return out + "}";
}

void Database::writeUnits(const std::vector<std::vector<Row>>& rows, const Units& units,
                          WriteResult& result,
                          const std::function<void(const std::vector<Refusal>&)>& refusedUnit) {
  Session& session = connection();
  auto savepoint = [&](const char* name) { session.execute(std::string("SAVEPOINT ") + name); };
  auto release = [&](const char* name) {
    session.execute(std::string("RELEASE SAVEPOINT ") + name);
  };
  auto rollbackTo = [&](const char* name) {  // and release it
    session.execute(std::string("ROLLBACK TO SAVEPOINT ") + name);
    release(name);
  };
  // Each unit's rows, in table order: a row of a later table may refer to an earlier one's.
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> byUnit;
  for (std::size_t t = 0; t < rows.size(); ++t) {
    for (std::size_t r = 0; r < rows[t].size(); ++r) {
      uint32_t unit = units[t][r];
      if (unit >= byUnit.size()) byUnit.resize(unit + 1);
      byUnit[unit].emplace_back(t, r);
    }
  }
  result.stored.resize(rows.size(), 0);
  std::vector<int64_t> stored(rows.size(), 0);
  std::vector<Refusal> refusals;
  for (const auto& unitRows : byUnit) {
    if (unitRows.empty()) continue;
    bool whole = unitRows.size() > 1;  // a unit of several rows is undone as one
    bool guarded = !statementsAreAtomic() || whole;
    if (whole) savepoint("etl_unit");
    refusals.clear();
    std::fill(stored.begin(), stored.end(), 0);
    for (const auto& [t, r] : unitRows) {
      if (guarded) savepoint("etl_row");
      try {
        stored[t] += storeRow(t, rows[t][r]);
        if (guarded) release("etl_row");
      } catch (const DataError& e) {
        if (guarded) rollbackTo("etl_row");
        refusals.push_back({t, r, e.what()});
      }
    }
    if (refusals.empty()) {
      if (whole) release("etl_unit");
      for (std::size_t t = 0; t < stored.size(); ++t) result.stored[t] += stored[t];
      continue;
    }
    if (whole) rollbackTo("etl_unit");
    for (const auto& refusal : refusals) result.refused.push_back(refusal);
    refusedUnit(refusals);
  }
}

}  // namespace sql
