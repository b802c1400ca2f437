// SQL both dialects share: INSERT ... ON CONFLICT and UPDATE have one syntax in PostgreSQL and
// SQLite (3.24+), so they are written once, with the dialect's placeholders.
#include <algorithm>

#include "database.h"

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

}  // namespace sql
