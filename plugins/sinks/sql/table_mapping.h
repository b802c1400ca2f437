// How the `sql` sink turns records into rows: for each table, the stream it takes (optionally
// filtered by field values) and, for each column, where its value comes from. Read from the
// sink's `tables:` YAML; every mistake is reported with its file:line:column.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "database.h"
#include "etl/config.h"
#include "etl/record.h"

namespace sql_sink {

struct ColumnSource {
  enum class Kind { Path, Record, Key, Stream, Now, Const };
  Kind kind = Kind::Path;
  std::string path;                  // Path: dotted, array indexes as numbers (commits.0.sha)
  std::optional<std::string> value;  // Const (nullopt: NULL)
  bool required = false;             // missing or null -> a dead letter naming the path
  bool validateJson = false;         // Record into a json/jsonb column: checked whole
};

struct TableMapping {
  sql::TableSpec spec;
  std::string stream;
  std::vector<ColumnSource> sources;                                 // one per spec.columns
  std::vector<std::pair<std::string, std::set<std::string>>> where;  // all must match
};

// Throws std::runtime_error ("file:line:column: ...") for a mistake in `config`'s `key`.
std::vector<TableMapping> parseTables(const etl::Config& config, const std::string& key);

// Whether the table stores a whole record in a json/jsonb column: such records are validated whole
// (Record::jsonError) before matches() and rowOf(), which then read the validated document.
bool validates(const TableMapping& table);

// Whether `record` passes the table's `where` (throws etl::FieldError for unreadable JSON).
bool matches(const TableMapping& table, const etl::Record& record);

// The table's row for `record`; `now` is the load time (ISO 8601 UTC). Each value is converted
// and checked by its column's type in `types` (sql::convertValue, in `style`). Values view the
// record's bytes (shared by its copies), `now`, the mapping, or strings appended to `storage`,
// which must outlive the row. Throws etl::FieldError naming the path of a required value that is
// missing or null, or the column, its type and why of a value that does not fit it.
sql::Row rowOf(const TableMapping& table, const etl::Record& record, const std::string& now,
               const std::vector<sql::ColumnType>& types, const sql::ValueStyle& style,
               std::deque<std::string>& storage);

// The keys of one table's mapping (its columns' keys nested): the one description the parser
// checks a mapping by, and `etlrun plugins sql` and the JSON Schema show.
extern const etl::ConfigField kTableKeys[];

}  // namespace sql_sink
