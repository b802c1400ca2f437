#include "table_mapping.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <stdexcept>

namespace sql_sink {

namespace {

const etl::ConfigField kColumnKeys[] = {
    {"path", etl::Type::String, etl::Optional, nullptr,
     "a dotted JSON path (payload.commits.0.sha); strings unescaped, numbers and booleans as "
     "written, objects and arrays as JSON; missing or null: NULL"},
    {"value", etl::Type::String, etl::Optional, nullptr,
     "the whole record, its key, its stream, or now (the load time)", nullptr, nullptr,
     "record|key|stream|now"},
    {"const", etl::Type::Json, etl::Optional, nullptr, "a constant (null: NULL)"},
    {"required", etl::Type::Bool, etl::Optional, "false",
     "missing or null: the record is a dead letter naming the path"},
    {"type", etl::Type::String, etl::Optional, nullptr,
     "the column's type: each value is converted and checked by it the same way on every "
     "database, and a value that does not fit is the record's dead letter. smallint, integer, "
     "bigint (an integer in range); numeric(p, s) (rounded to s places); real, double precision "
     "(finite); boolean (true/false, yes/no, on/off, 1/0; 1/0 where there is no boolean); "
     "timestamptz (ISO 8601 with Z or an offset, stored in UTC); timestamp (ISO 8601, an offset "
     "applied); date (YYYY-MM-DD, or a timestamp: its date); json, jsonb (JSON text); text, "
     "varchar(n) (UTF-8 without NUL, "
     "at most n characters); other types (bytea, uuid, arrays) go to the database as they are. "
     "Compared with an existing table's column at start; create: auto makes it. Default: the "
     "table's own type (text for create: auto)",
     nullptr, nullptr, nullptr,
     "^[A-Za-z_][A-Za-z0-9_ ]*(\\( *[0-9]+ *(, *[0-9]+ *)?\\))?[A-Za-z ]*(\\[\\])?$#a type name: "
     "words, then optionally (n) or (n, m) and []"},
    {"keep_existing", etl::Type::Bool, etl::Optional, "false",
     "upsert/update: a NULL keeps the stored value"},
    {}};

}  // namespace

const etl::ConfigField kTableKeys[] = {
    {"table", etl::Type::String, etl::Optional, nullptr,
     "the table when the entry's name is a label (schema.table allowed); default: the name"},
    {"stream", etl::Type::String, etl::Optional, nullptr,
     "takes records of this stream (default: the table's name)"},
    {"where", etl::Type::StringListMap, etl::Optional, nullptr,
     "only records whose field (a dotted path) is one of the values: {type: [PushEvent]}"},
    {"mode", etl::Type::String, etl::Optional, "insert",
     "insert; upsert (insert, or update by key); update (only existing keys, others skipped)",
     nullptr, nullptr, "insert|upsert|update"},
    {"key", etl::Type::StringList, etl::Optional, nullptr,
     "the unique key (a unique constraint of the table); required for upsert and update"},
    {"on_conflict", etl::Type::String, etl::Optional, "ignore",
     "insert: a duplicate key is ignored, or an error (a dead letter)", nullptr, nullptr,
     "ignore|error"},
    {"update", etl::Type::StringList, etl::Optional, nullptr,
     "upsert/update: the columns overwritten (default: all but the key)"},
    {"columns", etl::Type::Document, etl::Required, nullptr,
     "column name -> where its value comes from, in this order", nullptr, nullptr, nullptr, nullptr,
     kColumnKeys, "path"},
    {}};

namespace {

using Poco::JSON::Object;

// Reads the mapping document, naming where each mistake is.
// A mistake of the mapping, at its place: recorded, and the reading goes on with the next table
// or column, so that a file's every mistake is reported at once.
struct Mistake : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  Reader(const etl::Config& config, std::string key) : config_(config), key_(std::move(key)) {}

  std::string at(const std::string& path, const std::string& message) const {
    std::string where = config_.location(key_ + (path.empty() ? "" : "/" + path));
    return (where.empty() ? "" : where + ": ") + message;
  }
  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw Mistake(at(path, message));
  }
  // Runs `read`, recording its mistake instead of stopping.
  template <class F>
  void attempt(F&& read) {
    try {
      read();
    } catch (const Mistake& e) {
      problems.push_back(e.what());
    }
  }
  std::vector<std::string> problems;

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

  // Every key of `object` not among `fields`, each a mistake of its own.
  void onlyKeys(const Object::Ptr& object, const std::string& path,
                const etl::ConfigField* fields) {
    std::vector<std::string> known;
    for (const auto* f = fields; f->key; ++f) known.push_back(f->key);
    for (const auto& name : object->getNames()) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        problems.push_back(
            at(path + "/" + name, "unknown key '" + name + "'" + etl::didYouMean(name, known)));
      }
    }
  }

  // A key whose value is one of its field's choices.
  std::string choice(const Object::Ptr& object, const std::string& name, const std::string& path,
                     const etl::ConfigField* fields) const {
    const etl::ConfigField* f = fields;
    while (f->key && name != f->key) ++f;
    std::string value = text(object, name, path, f->defaultValue ? f->defaultValue : "");
    std::vector<std::string> options;
    std::string all = f->choices;
    for (std::size_t from = 0, bar; from <= all.size(); from = bar + 1) {
      bar = all.find('|', from);
      if (bar == std::string::npos) bar = all.size();
      options.push_back(all.substr(from, bar - from));
    }
    if (std::find(options.begin(), options.end(), value) != options.end()) return value;
    std::string hint = etl::didYouMean(value, options);
    if (hint.rfind(" (did you mean", 0) != 0) hint.clear();
    fail(path + "/" + name, name + " must be one of " + all + ", got '" + value + "'" + hint);
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

  // One column of the mapping, or its mistake recorded (false).
  bool readColumn(TableMapping& t, const Object::Ptr& columns, const std::string& column,
                  const std::string& at) {
    bool read = false;
    attempt([&] {
      checkName(column, at, false);
      sql::Column c;
      c.name = column;
      ColumnSource source;
      auto value = columns->get(column);
      if (value.isString()) {
        source.path = value.extract<std::string>();
      } else if (auto spec = columns->getObject(column)) {
        onlyKeys(spec, at, kColumnKeys);
        int given = spec->has("path") + spec->has("value") + spec->has("const");
        if (given != 1) fail(at, "a column takes exactly one of path, value or const");
        if (spec->has("path")) source.path = text(spec, "path", at, "");
        if (spec->has("value")) {
          std::string v = choice(spec, "value", at, kColumnKeys);
          using K = ColumnSource::Kind;
          source.kind = v == "record"   ? K::Record
                        : v == "key"    ? K::Key
                        : v == "stream" ? K::Stream
                                        : K::Now;
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
      source.validateJson = source.kind == ColumnSource::Kind::Record &&
                            sql::columnType(c.type).kind == sql::ValueKind::Json;
      t.spec.columns.push_back(c);
      t.sources.push_back(source);
      read = true;
    });
    return read;
  }

  TableMapping table(const std::string& name, const Object::Ptr& body) {
    std::string path = name;
    onlyKeys(body, path, kTableKeys);
    TableMapping t;
    t.spec.name = text(body, "table", path, name);
    checkName(t.spec.name, body->has("table") ? path + "/table" : path, true);
    t.stream = text(body, "stream", path, name);
    std::string mode = "insert", conflict = "ignore";
    attempt([&] { mode = choice(body, "mode", path, kTableKeys); });
    t.spec.mode = mode == "upsert"   ? sql::Mode::Upsert
                  : mode == "update" ? sql::Mode::Update
                                     : sql::Mode::Insert;
    t.spec.key = list(body, "key", path);
    attempt([&] { conflict = choice(body, "on_conflict", path, kTableKeys); });
    if (body->has("on_conflict") && t.spec.mode != sql::Mode::Insert) {
      fail(path + "/on_conflict", "on_conflict is for mode: insert (upsert updates, update skips)");
    }
    t.spec.conflictIsError = conflict == "error";
    if (t.spec.mode != sql::Mode::Insert && t.spec.key.empty()) {
      fail(path, "mode: " + mode + " needs a key (the columns of a unique constraint)");
    }
    auto columns = body->getObject("columns");
    if (!columns || columns->size() == 0) fail(path, "table '" + name + "' has no columns");
    bool complete = true;  // every column read: the checks across columns below make sense
    for (const auto& column : columns->getNames()) {
      complete &= readColumn(t, columns, column, path + "/columns/" + column);
    }
    if (!complete) return t;
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
    throw std::runtime_error(reader.at("", "'" + key + "' must map table names to their mappings"));
  }
  std::vector<TableMapping> tables;
  for (const auto& name : root->getNames()) {
    reader.attempt([&] {
      auto body = root->getObject(name);
      if (!body) reader.fail(name, "table '" + name + "' must be a map with columns");
      tables.push_back(reader.table(name, body));
    });
  }
  if (root->size() == 0) reader.problems.push_back(reader.at("", "no tables declared"));
  if (!reader.problems.empty()) {
    std::string all;
    for (const auto& p : reader.problems) all += (all.empty() ? "" : "\n") + p;
    throw std::runtime_error(all);
  }
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
