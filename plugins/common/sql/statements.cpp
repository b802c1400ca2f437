// SQL both dialects share: INSERT ... ON CONFLICT and UPDATE have one syntax in PostgreSQL and
// SQLite (3.24+), so they are written once, with the dialect's placeholders.
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <sstream>

#include "database.h"
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
  bool postgres = dialect == Dialect::Postgres;
  auto placeholder = [&](std::size_t i) { return (postgres ? "$" : "?") + std::to_string(i); };
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
             placeholder(values.size()) + " ESCAPE '\\'";
  }
  if (!filter.createdBefore.empty()) add("created_at < ", filter.createdBefore);
  // record_bytes as hex: both dialects have a function for it (see hexOfBytes).
  return "SELECT id, pipeline, plugin, coalesce(stream, ''), reason, record, " +
         std::string(postgres ? "encode(record_bytes, 'hex')" : "hex(record_bytes)") +
         ", created_at FROM etl_dead_letters" + where + " ORDER BY id" +
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

std::string createStatement(const TableSpec& t,
                            const std::function<std::string(const std::string&)>& typeOf) {
  std::string body;
  for (const auto& c : t.columns) {
    body += (body.empty() ? "" : ", ") + quoteIdentifier(c.name) + " " +
            typeOf(c.type.empty() ? "text" : c.type);
  }
  if (!t.key.empty()) {
    std::string key;
    for (const auto& k : t.key) key += (key.empty() ? "" : ", ") + quoteIdentifier(k);
    body += ", PRIMARY KEY (" + key + ")";
  }
  return "CREATE TABLE IF NOT EXISTS " + quoteIdentifier(t.name) + " (" + body + ")";
}

Checkpoint checkpointOf(const etl::Batch& batch) {
  Checkpoint out;
  if (!batch.checkpointParts) {
    out.whole = batch.checkpoint;
    return out;
  }
  if (batch.checkpoint.empty()) return out;
  Poco::JSON::Object::Ptr object;
  try {
    object = Poco::JSON::Parser().parse(batch.checkpoint).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("a partitioned checkpoint is not a JSON object: " + e.displayText());
  }
  for (const auto& [part, value] : *object) {
    std::ostringstream state;
    Poco::JSON::Stringifier::stringify(value, state);
    out.parts.emplace_back(part, state.str());
  }
  return out;
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
