#include "table_mapping.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <stdexcept>

namespace sql_sink {

const char* const kTablesHelp =
    "table name (or a label, with table:) -> its mapping; tables are written in this order:\n"
    "        table: NAME            the table when the key is a label (schema.table allowed)\n"
    "        stream: S              takes records of stream S (default: the table name)\n"
    "        where: {f: [v, ...]}   only records whose field f (dotted path) is one of the values\n"
    "        mode: insert           insert | upsert (insert, or update by key) | update (only\n"
    "                               existing keys; others are skipped)\n"
    "        key: [c, ...]          the unique key (required for upsert and update)\n"
    "        on_conflict: ignore    insert: ignore | error (a duplicate key is a dead letter)\n"
    "        update: [c, ...]       upsert/update: the columns overwritten (default: all but key)\n"
    "        columns:               column name -> a dotted path (payload.commits.0.sha), or:\n"
    "          path: P              a dotted JSON path; strings unescaped, numbers and booleans\n"
    "                               as written, objects and arrays as JSON; missing/null: NULL\n"
    "          value: V             record (the whole record) | key | stream | now (load time)\n"
    "          const: X             a constant (null: NULL)\n"
    "          required: true       missing or null: the record is a dead letter naming the path\n"
    "          type: T              the column's type: each value is converted and checked by\n"
    "                               it the same way on every database (a value that does not\n"
    "                               fit is the record's dead letter); compared with an existing\n"
    "                               table's column at start; create: auto makes it. Default:\n"
    "                               the table's own type (text for create: auto)\n"
    "          keep_existing: true  upsert/update: a NULL keeps the stored value\n"
    "      Types: smallint, integer, bigint (an integer in range); numeric(p, s) (rounded to s\n"
    "      places); real, double precision (finite); boolean (true/false, yes/no, on/off, 1/0;\n"
    "      stored 1/0 where there is no boolean); timestamptz (ISO 8601 with Z or an offset,\n"
    "      stored in UTC); timestamp (ISO 8601; an offset is applied); date (YYYY-MM-DD);\n"
    "      json, jsonb (JSON text); text, varchar(n) (UTF-8 without NUL, at most n characters).\n"
    "      Other types (bytea, uuid, arrays) go to the database as they are.";

namespace {

using Poco::JSON::Object;

// Reads the mapping document, naming where each mistake is.
class Reader {
 public:
  Reader(const etl::Config& config, std::string key) : config_(config), key_(std::move(key)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    std::string where = config_.location(key_ + (path.empty() ? "" : "/" + path));
    throw std::runtime_error((where.empty() ? "" : where + ": ") + message);
  }

  std::string text(const Object::Ptr& object, const std::string& name, const std::string& path,
                   const std::string& fallback) const {
    if (!object->has(name) || object->isNull(name)) return fallback;
    auto value = object->get(name);
    if (!value.isString()) fail(path + "/" + name, "'" + name + "' must be a single value");
    return value.extract<std::string>();
  }

  bool flag(const Object::Ptr& object, const std::string& name, const std::string& path) const {
    std::string v = text(object, name, path, "false");
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
    fail(path + "/" + name, "'" + name + "' must be true or false, got '" + v + "'");
  }

  std::vector<std::string> list(const Object::Ptr& object, const std::string& name,
                                const std::string& path) const {
    std::vector<std::string> out;
    if (!object->has(name) || object->isNull(name)) return out;
    auto value = object->get(name);
    if (value.isString()) return {value.extract<std::string>()};
    auto array = object->getArray(name);
    if (!array) fail(path + "/" + name, "'" + name + "' must be a list of names");
    for (std::size_t i = 0; i < array->size(); ++i) {
      auto item = array->get(static_cast<unsigned>(i));
      if (!item.isString()) fail(path + "/" + name + "/" + std::to_string(i), "expected a name");
      out.push_back(item.extract<std::string>());
    }
    return out;
  }

  void onlyKeys(const Object::Ptr& object, const std::string& path,
                const std::vector<std::string>& known) const {
    for (const auto& name : object->getNames()) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string all;
        for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
        fail(path + "/" + name, "unknown key '" + name + "' (valid keys: " + all + ")");
      }
    }
  }

  // A table or column name: not empty, at most 63 bytes (PostgreSQL cuts longer names, so two
  // that differ after byte 63 would silently be one table), no NUL. A table may be qualified by
  // one schema (analytics.events); a column never (a dot would read as a qualified name).
  void checkName(const std::string& name, const std::string& at, bool table) const {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
      std::size_t dot = name.find('.', start);
      parts.push_back(
          name.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    std::string what = table ? "table name" : "column name";
    if (name.empty()) fail(at, "a " + what + " cannot be empty");
    if (!table && parts.size() > 1) {
      fail(at, "column name '" + name + "' holds a dot, which would read as a qualified name");
    }
    if (parts.size() > 2) fail(at, "table name '" + name + "' has more than one schema qualifier");
    for (const auto& part : parts) {
      if (part.empty()) fail(at, what + " '" + name + "' has an empty part");
      if (part.size() > 63) {
        fail(at, what + " '" + name + "' is longer than 63 bytes (PostgreSQL would cut it, and " +
                     "two names alike in their first 63 bytes would be one)");
      }
      if (part.find('\0') != std::string::npos) fail(at, what + " holds a NUL byte");
    }
  }

  // A declared type: words, an optional (n) or (n, m), an optional [] (numeric(12, 2), double
  // precision, timestamp with time zone, text[]). It goes into CREATE TABLE, so nothing else
  // passes: no quotes, semicolons or parentheses of any other kind.
  void checkType(const std::string& type, const std::string& at) const {
    std::size_t i = 0, n = type.size();
    auto letter = [&](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
    auto digit = [&](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    auto spaces = [&] {
      while (i < n && type[i] == ' ') ++i;
    };
    auto number = [&] {
      std::size_t from = i;
      while (i < n && digit(type[i])) ++i;
      return i > from;
    };
    bool ok = n > 0 && n <= 64 && letter(type[0]);
    while (ok && i < n && (letter(type[i]) || digit(type[i]) || type[i] == ' ')) ++i;
    if (ok && i < n && type[i] == '(') {
      ++i;
      spaces();
      ok = number();
      spaces();
      if (ok && i < n && type[i] == ',') {
        ++i;
        spaces();
        ok = number();
        spaces();
      }
      ok = ok && i < n && type[i] == ')';
      ++i;
      spaces();
    }
    if (ok && i + 1 < n + 1 && type.compare(i, 2, "[]") == 0) i += 2;
    if (!ok || i != n) {
      fail(at, "type '" + type +
                   "' is not a type name (words, then optionally (n) or (n, m) and []: "
                   "numeric(12, 2), timestamp with time zone, text[])");
    }
  }

  TableMapping table(const std::string& name, const Object::Ptr& body) const {
    std::string path = name;
    onlyKeys(body, path,
             {"table", "stream", "where", "mode", "key", "on_conflict", "update", "columns"});
    TableMapping t;
    t.spec.name = text(body, "table", path, name);
    checkName(t.spec.name, body->has("table") ? path + "/table" : path, true);
    t.stream = text(body, "stream", path, name);
    std::string mode = text(body, "mode", path, "insert");
    if (mode == "insert") {
      t.spec.mode = sql::Mode::Insert;
    } else if (mode == "upsert") {
      t.spec.mode = sql::Mode::Upsert;
    } else if (mode == "update") {
      t.spec.mode = sql::Mode::Update;
    } else {
      fail(path + "/mode", "mode must be insert, upsert or update, got '" + mode + "'");
    }
    t.spec.key = list(body, "key", path);
    std::string conflict = text(body, "on_conflict", path, "ignore");
    if (conflict != "ignore" && conflict != "error") {
      fail(path + "/on_conflict", "on_conflict must be ignore or error, got '" + conflict + "'");
    }
    if (body->has("on_conflict") && t.spec.mode != sql::Mode::Insert) {
      fail(path + "/on_conflict", "on_conflict is for mode: insert (upsert updates, update skips)");
    }
    t.spec.conflictIsError = conflict == "error";
    if (t.spec.mode != sql::Mode::Insert && t.spec.key.empty()) {
      fail(path, "mode: " + mode + " needs a key (the columns of a unique constraint)");
    }
    auto columns = body->getObject("columns");
    if (!columns || columns->size() == 0) fail(path, "table '" + name + "' has no columns");
    for (const auto& column : columns->getNames()) {
      std::string at = path + "/columns/" + column;
      checkName(column, at, false);
      sql::Column c;
      c.name = column;
      ColumnSource source;
      auto value = columns->get(column);
      if (value.isString()) {
        source.path = value.extract<std::string>();
      } else if (auto spec = columns->getObject(column)) {
        onlyKeys(spec, at, {"path", "value", "const", "required", "type", "keep_existing"});
        int given = spec->has("path") + spec->has("value") + spec->has("const");
        if (given != 1) fail(at, "a column takes exactly one of path, value or const");
        if (spec->has("path")) source.path = text(spec, "path", at, "");
        if (spec->has("value")) {
          std::string v = text(spec, "value", at, "");
          using K = ColumnSource::Kind;
          source.kind = v == "record"   ? K::Record
                        : v == "key"    ? K::Key
                        : v == "stream" ? K::Stream
                        : v == "now"    ? K::Now
                                        : K::Path;
          if (source.kind == K::Path) {
            fail(at + "/value", "value must be record, key, stream or now, got '" + v + "'");
          }
        }
        if (spec->has("const")) {
          source.kind = ColumnSource::Kind::Const;
          if (!spec->isNull("const")) source.value = text(spec, "const", at, "");
        }
        source.required = flag(spec, "required", at);
        c.type = text(spec, "type", at, "");
        if (spec->has("type")) checkType(c.type, at + "/type");
        c.keepWhenNull = flag(spec, "keep_existing", at);
      } else {
        fail(at, "a column is a dotted path or a map {path | value | const, required, type}");
      }
      if (source.kind == ColumnSource::Kind::Path && source.path.empty()) fail(at, "empty path");
      std::string type = c.type;
      std::transform(type.begin(), type.end(), type.begin(), ::tolower);
      source.validateJson =
          source.kind == ColumnSource::Kind::Record && (type == "json" || type == "jsonb");
      t.spec.columns.push_back(c);
      t.sources.push_back(source);
    }
    for (const auto& k : t.spec.key) {
      auto it = std::find_if(t.spec.columns.begin(), t.spec.columns.end(),
                             [&](const sql::Column& c) { return c.name == k; });
      if (it == t.spec.columns.end()) fail(path + "/key", "key column '" + k + "' is not a column");
    }
    if (body->has("update")) {
      if (t.spec.mode == sql::Mode::Insert)
        fail(path + "/update", "update is for upsert and update");
      auto chosen = list(body, "update", path);
      for (auto& c : t.spec.columns) {
        c.update = std::find(chosen.begin(), chosen.end(), c.name) != chosen.end();
      }
      for (const auto& u : chosen) {
        if (std::none_of(t.spec.columns.begin(), t.spec.columns.end(),
                         [&](const sql::Column& c) { return c.name == u; })) {
          fail(path + "/update", "update names '" + u + "', which is not a column");
        }
      }
    }
    if (t.spec.mode == sql::Mode::Update) {
      // UPDATE ... SET <nothing>: a mapping of key columns only has nothing to write.
      bool writes = std::any_of(t.spec.columns.begin(), t.spec.columns.end(), [&](const auto& c) {
        return c.update &&
               std::find(t.spec.key.begin(), t.spec.key.end(), c.name) == t.spec.key.end();
      });
      if (!writes) {
        fail(path, "mode: update needs a column to write besides the key (" +
                       std::to_string(t.spec.key.size()) + " key column(s), nothing else)");
      }
    }
    if (auto where = body->getObject("where")) {
      for (const auto& field : where->getNames()) {
        auto values = list(where, field, path + "/where");
        t.where.emplace_back(field, std::set<std::string>(values.begin(), values.end()));
      }
    }
    return t;
  }

 private:
  const etl::Config& config_;
  std::string key_;
};

}  // namespace

std::vector<TableMapping> parseTables(const etl::Config& config, const std::string& key) {
  Reader reader(config, key);
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keep the YAML's order
  Object::Ptr root;
  try {
    root = parser.parse(config.getDocument(key)).extract<Object::Ptr>();
  } catch (const std::exception&) {
    reader.fail("", "'" + key + "' must map table names to their mappings");
  }
  std::vector<TableMapping> tables;
  for (const auto& name : root->getNames()) {
    auto body = root->getObject(name);
    if (!body) reader.fail(name, "table '" + name + "' must be a map with columns");
    tables.push_back(reader.table(name, body));
  }
  if (tables.empty()) reader.fail("", "no tables declared");
  return tables;
}

bool validates(const TableMapping& table) {
  for (const auto& s : table.sources) {
    if (s.validateJson) return true;
  }
  return false;
}

bool matches(const TableMapping& table, const etl::Record& record) {
  for (const auto& [field, accepted] : table.where) {
    auto value = record.text(field);
    if (!value || !accepted.count(*value)) return false;
  }
  return true;
}

sql::Row rowOf(const TableMapping& table, const etl::Record& record, const std::string& now,
               const std::vector<sql::ColumnType>& types, const sql::ValueStyle& style,
               std::deque<std::string>& storage) {
  sql::Row row;
  row.reserve(table.sources.size());
  for (std::size_t i = 0; i < table.sources.size(); ++i) {
    const ColumnSource& s = table.sources[i];
    std::optional<std::string_view> value;
    switch (s.kind) {
      case ColumnSource::Kind::Path:
        if (auto text = record.text(s.path)) {
          storage.push_back(std::move(*text));
          value = storage.back();
        }
        if (!value && s.required) {
          throw etl::FieldError("field '" + s.path + "' (column " + table.spec.columns[i].name +
                                " of " + table.spec.name + ") is missing or null");
        }
        break;
      case ColumnSource::Kind::Record:
        value = record.raw();  // validated by the caller when its column is json/jsonb (validates)
        break;
      // Copied: a row may outlive this copy of the record (only the bytes are shared by copies).
      case ColumnSource::Kind::Key:
        if (!record.key().empty()) {
          storage.push_back(record.key());
          value = storage.back();
        }
        break;
      case ColumnSource::Kind::Stream:
        storage.push_back(record.stream());
        value = storage.back();
        break;
      case ColumnSource::Kind::Now:
        value = now;
        break;
      case ColumnSource::Kind::Const:
        value = s.value;
        break;
    }
    if (!value && s.required) {
      throw etl::FieldError("column " + table.spec.columns[i].name + " of " + table.spec.name +
                            " is required and has no value");
    }
    if (value && i < types.size()) {
      const sql::ColumnType& type = types[i];
      bool jsonChecked = false;
      if (s.kind == ColumnSource::Kind::Record && type.kind == sql::ValueKind::Json) {
        // The record's own validation (kept parsed for the lookups that follow).
        std::string invalid = s.validateJson ? std::string() : record.jsonError();
        if (!invalid.empty()) throw etl::FieldError("invalid JSON: " + invalid);
        jsonChecked = true;
      }
      std::string converted;
      switch (sql::convertValue(type, *value, style, converted, jsonChecked)) {
        case sql::Converted::Same:
          break;
        case sql::Converted::Changed:
          storage.push_back(std::move(converted));
          value = storage.back();
          break;
        case sql::Converted::Refused:
          throw etl::FieldError("column " + table.spec.columns[i].name + " of " + table.spec.name +
                                " (" + type.name + "): " + converted);
      }
    }
    row.push_back(std::move(value));
  }
  return row;
}

}  // namespace sql_sink
