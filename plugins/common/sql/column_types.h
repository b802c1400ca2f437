// What a column's type means, the same on every database: a declared or existing type name
// (PostgreSQL's, SQLite's or MySQL's spelling) read into one kind, and each value converted and
// checked against it before any database sees it. Without this, SQLite kept a JSON array in an
// INTEGER column and epoch numbers in a "timestamptz" one while PostgreSQL refused those records:
// now a value that does not fit is that record's dead letter on every database, with one reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sql {

enum class ValueKind {
  Text,         // text, varchar(n), char(n): valid UTF-8 without NUL, at most maxChars characters
  Integer,      // smallint, integer, bigint: an integer literal within [min, max]
  Numeric,      // numeric(p, s): a decimal, rounded to s places, at most p - s integer digits
  Float,        // real, double precision: a finite number
  Boolean,      // true/false, t/f, yes/no, on/off, 1/0: stored as 1 or 0
  Timestamp,    // timestamp without time zone: ISO 8601; an offset is applied (stored as UTC)
  TimestampTz,  // timestamp with time zone: ISO 8601 with Z or an offset; stored as UTC
  Date,         // YYYY-MM-DD, or the date of an ISO 8601 timestamp as written
  Json,         // json, jsonb: a JSON text
  Unchecked,    // bytea, arrays, uuid and the rest: passed to the database as they are
};

struct ColumnType {
  ValueKind kind = ValueKind::Text;
  std::string name;          // canonical: bigint, numeric(12,2), timestamptz, varchar(20), ...
  int64_t min = 0, max = 0;  // Integer
  int precision = 0;         // Numeric: 0 = any
  int scale = 0;             // Numeric
  std::size_t maxChars = 0;  // Text: 0 = unbounded
};

// The type a name means (case and spacing free: "timestamp with time zone", "TIMESTAMPTZ",
// "int8", "character varying(20)", "DATETIME(6)", "tinyint(1)"). An empty name is text.
ColumnType columnType(const std::string& name);

// How a dialect writes the converted values it is given (SqlDialect::valueStyle).
struct ValueStyle {
  // Timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC without a zone (MySQL's DATETIME), instead
  // of ISO 8601 with a Z.
  bool plainTimestamps = false;
};

enum class Converted {
  Same,     // the value is stored as it came
  Changed,  // stored as `out`
  Refused,  // does not fit: `out` says why (the reason of a dead letter)
};

// Checks `value` against `type` and gives what the database stores. `jsonChecked`: the value is
// known to be valid JSON (a whole record validated before).
Converted convertValue(const ColumnType& type, std::string_view value, const ValueStyle& style,
                       std::string& out, bool jsonChecked = false);

// A column of an existing table, as the database describes it.
struct ExistingColumn {
  std::string name, type;
};

// Checks the table's declared columns against `existing` and returns the type every column's
// values are checked by: the declared one, or when none is declared the table's own. Throws
// std::runtime_error naming table, column and both types for a column the table lacks or whose
// type is not what was declared (every such column of the table, at once).
struct TableSpec;
class SqlDialect;
std::vector<ColumnType> resolveColumns(const TableSpec& table,
                                       const std::vector<ExistingColumn>& existing,
                                       const SqlDialect& dialect, const std::string& where);

// The declared types of a table created by create: auto (text when none is declared).
std::vector<ColumnType> declaredColumns(const TableSpec& table);

}  // namespace sql
