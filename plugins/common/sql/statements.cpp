// SQL both dialects share: INSERT ... ON CONFLICT and UPDATE have one syntax in PostgreSQL and
// SQLite (3.24+), so they are written once, with the dialect's placeholders.
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "database.h"
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

std::string unqualified(const std::string& name) {
  std::size_t dot = name.rfind('.');
  return quoteIdentifier(dot == std::string::npos ? name : name.substr(dot + 1));
}

std::string rowStatement(const TableSpec& t,
                         const std::function<std::string(std::size_t)>& placeholder) {
  std::string target = quoteIdentifier(t.name);
  std::string self = unqualified(t.name);
  auto value = [&](std::size_t i, const std::string& incoming) {
    const Column& c = t.columns[i];
    return c.keepWhenNull
               ? "COALESCE(" + incoming + ", " + self + "." + quoteIdentifier(c.name) + ")"
               : incoming;
  };
  if (t.mode == Mode::Update) {
    std::string sets, where;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      bool isKey = std::find(t.key.begin(), t.key.end(), c.name) != t.key.end();
      if (isKey) {
        where += (where.empty() ? "" : " AND ") + quoteIdentifier(c.name) + " = " + placeholder(i);
      } else if (c.update) {
        sets +=
            (sets.empty() ? "" : ", ") + quoteIdentifier(c.name) + " = " + value(i, placeholder(i));
      }
    }
    return "UPDATE " + target + " SET " + sets + " WHERE " + where;
  }
  std::string columns, values;
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    columns += (i ? ", " : "") + quoteIdentifier(t.columns[i].name);
    values += (i ? ", " : "") + placeholder(i);
  }
  std::string statement = "INSERT INTO " + target + " (" + columns + ") VALUES (" + values + ")";
  std::string conflict;
  for (const auto& k : t.key) conflict += (conflict.empty() ? "" : ", ") + quoteIdentifier(k);
  if (t.mode == Mode::Upsert) {
    std::string sets;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      if (!c.update || std::find(t.key.begin(), t.key.end(), c.name) != t.key.end()) continue;
      sets += (sets.empty() ? "" : ", ") + quoteIdentifier(c.name) + " = " +
              value(i, "excluded." + quoteIdentifier(c.name));
    }
    return statement + " ON CONFLICT (" + conflict + ") DO " +
           (sets.empty() ? "NOTHING" : "UPDATE SET " + sets);
  }
  if (t.conflictIsError) return statement;
  return statement + " ON CONFLICT " + (conflict.empty() ? "" : "(" + conflict + ") ") +
         "DO NOTHING";
}

std::string deadLetterQuery(const etl::DeadLetterFilter& filter, Dialect dialect,
                            std::vector<std::string>& values) {
  auto placeholder = [&](std::size_t i) { return sql::placeholder(dialect, static_cast<int>(i)); };
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
    // MySQL reads a backslash in a string literal as an escape: '\\' is one backslash there.
    where += std::string(where.empty() ? " WHERE " : " AND ") + "reason LIKE " +
             placeholder(values.size()) +
             (dialect == Dialect::Mysql ? " ESCAPE '\\\\'" : " ESCAPE '\\'");
  }
  if (!filter.createdBefore.empty()) add("created_at < ", filter.createdBefore);
  // record_bytes as hex: every dialect has a function for it. MySQL's DATETIME is shown as
  // ISO 8601 UTC (the session's time zone is UTC).
  std::string createdAt =
      dialect == Dialect::Mysql ? "DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ')" : "created_at";
  return "SELECT id, pipeline, plugin, coalesce(stream, ''), reason, record, " +
         std::string(dialect == Dialect::Postgres ? "encode(record_bytes, 'hex')"
                                                  : "hex(record_bytes)") +
         ", " + createdAt + " FROM etl_dead_letters" + where + " ORDER BY id" +
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

std::string createStatement(const TableSpec& t, Dialect dialect, const std::string& options) {
  std::string body;
  for (const auto& c : t.columns) {
    // PostgreSQL takes the declared name as written (text[] and uuid are its own types too).
    bool key = std::find(t.key.begin(), t.key.end(), c.name) != t.key.end();
    std::string type = dialect != Dialect::Postgres ? storageType(dialect, columnType(c.type), key)
                       : c.type.empty()             ? "text"
                                                    : c.type;
    body += (body.empty() ? "" : ", ") + quoteIdentifier(c.name) + " " + type;
  }
  if (!t.key.empty()) {
    std::string key;
    for (const auto& k : t.key) key += (key.empty() ? "" : ", ") + quoteIdentifier(k);
    body += ", PRIMARY KEY (" + key + ")";
  }
  return "CREATE TABLE IF NOT EXISTS " + quoteIdentifier(t.name) + " (" + body + ")" + options;
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

std::string SqlCheckpointStore::placeholder(int n) const {
  return sql::placeholder(dialect_, n);
}

const char* SqlCheckpointStore::now() const {
  switch (dialect_) {
    case Dialect::Postgres:
      return "now()";
    case Dialect::Mysql:
      return "NOW(6)";
    case Dialect::Sqlite:
      break;
  }
  return "strftime('%Y-%m-%dT%H:%M:%fZ','now')";
}

// `onConflict`: what a row already there gets, "" for nothing. MySQL has no ON CONFLICT: its
// ON DUPLICATE KEY UPDATE does both (never INSERT IGNORE, which turns data errors into warnings);
// "nothing" is an update of the key to itself, which reports 0 rows changed.
std::string SqlCheckpointStore::insert(const CheckpointWrite& w,
                                       const std::string& onConflict) const {
  bool mysql = dialect_ == Dialect::Mysql;
  std::string conflict =
      mysql
          ? " ON DUPLICATE KEY UPDATE " +
                (onConflict.empty() ? std::string("pipeline = pipeline") : onConflict)
          : std::string(" ON CONFLICT ") + (w.part.empty() ? "(pipeline) " : "(pipeline, part) ") +
                (onConflict.empty() ? std::string("DO NOTHING") : "DO UPDATE SET " + onConflict);
  return w.part.empty()
             ? "INSERT INTO etl_checkpoints (pipeline, checkpoint) VALUES (" + placeholder(1) +
                   ", " + placeholder(2) + ")" + conflict
             : "INSERT INTO etl_checkpoint_parts (pipeline, checkpoint, part) VALUES (" +
                   placeholder(1) + ", " + placeholder(2) + ", " + placeholder(3) + ")" + conflict;
}

int64_t SqlCheckpointStore::upsert(const std::string& pipeline, const CheckpointWrite& w) {
  std::string incoming = dialect_ == Dialect::Mysql ? "VALUES(checkpoint)" : "excluded.checkpoint";
  std::string statement =
      insert(w, "checkpoint = " + incoming + ", updated_at = " + std::string(now()));
  if (w.part.empty()) return session_.execute(statement, {pipeline, w.state});
  return session_.execute(statement, {pipeline, w.state, w.part});
}

int64_t SqlCheckpointStore::insertIfAbsent(const std::string& pipeline, const CheckpointWrite& w) {
  if (w.part.empty()) return session_.execute(insert(w, ""), {pipeline, w.state});
  return session_.execute(insert(w, ""), {pipeline, w.state, w.part});
}

int64_t SqlCheckpointStore::replaceIf(const std::string& pipeline, const CheckpointWrite& w) {
  std::string table = w.part.empty() ? "etl_checkpoints" : "etl_checkpoint_parts";
  std::string statement = "UPDATE " + table + " SET checkpoint = " + placeholder(1) +
                          ", updated_at = " + now() + " WHERE pipeline = " + placeholder(2) +
                          " AND checkpoint = " + placeholder(3);
  if (w.part.empty()) return session_.execute(statement, {w.state, pipeline, *w.expected});
  return session_.execute(statement + " AND part = " + placeholder(4),
                          {w.state, pipeline, *w.expected, w.part});
}

std::optional<std::string> SqlCheckpointStore::stored(const std::string& pipeline,
                                                      const std::string& part) {
  if (part.empty()) {
    return firstValue(session_.query(
        "SELECT checkpoint FROM etl_checkpoints WHERE pipeline = " + placeholder(1), {pipeline}));
  }
  return firstValue(session_.query("SELECT checkpoint FROM etl_checkpoint_parts WHERE pipeline = " +
                                       placeholder(1) + " AND part = " + placeholder(2),
                                   {pipeline, part}));
}

std::optional<std::string> Database::loadCheckpoint(const std::string& pipeline) {
  open();
  Session& session = connection();
  auto whole = session.query(
      "SELECT checkpoint FROM etl_checkpoints WHERE pipeline = " + placeholder(dialect(), 1),
      {pipeline});
  if (!whole.empty()) return whole[0][0].value_or("");
  std::vector<std::pair<std::string, std::string>> parts;
  for (auto& row : session.query("SELECT part, checkpoint FROM etl_checkpoint_parts WHERE "
                                 "pipeline = " +
                                     placeholder(dialect(), 1) + " ORDER BY part",
                                 {pipeline})) {
    parts.emplace_back(row[0].value_or(""), row[1].value_or(""));
  }
  if (parts.empty()) return std::nullopt;
  return joinedParts(parts);
}

void Database::migrate(const std::string& dir, Poco::Logger& logger) {
  Session& session = connection();
  for (const auto& m : readMigrations(dir, dialect())) {
    std::string version = std::to_string(m.version);
    if (!session
             .query(
                 "SELECT 1 FROM etl_schema_migrations WHERE version = " + placeholder(dialect(), 1),
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
                        placeholder(dialect(), 1) + ", " + placeholder(dialect(), 2) + ")",
                    {version, m.name});
    migrationRecorded();
    logger.information("applied migration " + version + ": " + m.name);
  }
}

void Database::ensureTable(std::size_t i, const TableSpec& t, bool create,
                           const std::string& createOptions, Poco::Logger& logger) {
  Bound columns = columnsQuery(dialect(), t.name);
  std::vector<ExistingColumn> existing;
  for (auto& row : connection().query(
           columns.statement, Session::Values(columns.values.begin(), columns.values.end()))) {
    existing.push_back({row[0].value_or(""), row[1].value_or("")});
  }
  if (!existing.empty()) {
    checkKey(t);
    setColumnTypes(i, resolveColumns(t, existing, dialect(), describe()));
    return;
  }
  if (!create) {
    throw std::runtime_error("table " + t.name + " does not exist in " + describe() +
                             ": create it in a migration, or set create: auto");
  }
  connection().execute(createStatement(t, dialect(), createOptions));
  logger.information("created table " + t.name + " (create: auto)");
}

std::vector<etl::StoredDeadLetter> Database::deadLetters(const etl::DeadLetterFilter& filter) {
  open();
  std::vector<std::string> values;
  std::string query = deadLetterQuery(filter, dialect(), values);
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
  session.execute(beginStatement(dialect()));
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

WriteResult writeInTurn(etl::CommitTurn& turn, Poco::Logger& logger,
                        const std::function<void()>& rollback, const WriteAttempt& bulk,
                        const WriteAttempt& rowByRow, const std::function<void()>& conflicted) {
  for (bool mayYield = true;; mayYield = false) {
    try {
      if (bulk) {
        try {
          return bulk(mayYield);
        } catch (const DataError& e) {
          rollback();
          logger.warning(std::string("batch refused (") + e.what() + "): storing it row by row");
          turn.wait();
        }
      }
      return rowByRow(mayYield);
    } catch (const Yield&) {
      rollback();
      turn.wait();
    } catch (const LockConflict& e) {
      rollback();
      logger.debug(std::string("lock conflict, writing the batch again: ") + e.what());
      if (conflicted) conflicted();
      turn.wait();
    } catch (...) {
      rollback();
      throw;
    }
  }
}

CheckpointOutcome storeCheckpoint(const std::string& pipeline, const Checkpoint& checkpoint,
                                  CheckpointStore& store) {
  std::size_t already = 0;
  for (const auto& w : checkpoint.writes) {
    if (!w.checked) {
      store.upsert(pipeline, w);
      continue;
    }
    if ((w.expected ? store.replaceIf(pipeline, w) : store.insertIfAbsent(pipeline, w)) == 1) {
      continue;
    }
    std::optional<std::string> now = store.stored(pipeline, w.part);
    if (now == w.state && w.state != w.expected) {
      ++already;
      continue;
    }
    std::string what =
        w.part.empty() ? "the checkpoint of pipeline '" + pipeline + "'"
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

std::string joinedParts(const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string out = "{";
  for (const auto& [part, state] : parts) {
    if (out.size() > 1) out += ',';
    etl::appendJsonString(out, part);
    out += ':' + state;
  }
  return out + "}";
}

void writeUnits(const std::vector<std::vector<Row>>& rows, const Units& units, RowWriter& writer,
                WriteResult& result,
                const std::function<void(const std::vector<Refusal>&)>& refusedUnit) {
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
    bool guarded = !writer.statementsAreAtomic() || whole;
    if (whole) writer.savepoint("etl_unit");
    refusals.clear();
    std::fill(stored.begin(), stored.end(), 0);
    for (const auto& [t, r] : unitRows) {
      if (guarded) writer.savepoint("etl_row");
      try {
        stored[t] += writer.run(t, rows[t][r]);
        if (guarded) writer.release("etl_row");
      } catch (const DataError& e) {
        if (guarded) writer.rollbackTo("etl_row");
        refusals.push_back({t, r, e.what()});
      }
    }
    if (refusals.empty()) {
      if (whole) writer.release("etl_unit");
      for (std::size_t t = 0; t < stored.size(); ++t) result.stored[t] += stored[t];
      continue;
    }
    if (whole) writer.rollbackTo("etl_unit");
    for (const auto& refusal : refusals) result.refused.push_back(refusal);
    refusedUnit(refusals);
  }
}

}  // namespace sql
