// What MySQL needs of a declared column, until the sql sink's value-conversion layer (which
// converts every value by its column's type before a dialect sees it) covers MySQL: the type
// create: auto gives a PostgreSQL-style declared type, and the interim conversions without which
// strict MySQL refuses values PostgreSQL takes (ISO 8601 timestamps with a zone, true/false).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sql {

// The MySQL type for a declared (PostgreSQL-style) type name: text -> LONGTEXT (VARCHAR(255) for a
// key column: an index needs a bounded length), bigint -> BIGINT, boolean -> BOOLEAN,
// numeric(p,s) -> DECIMAL(p,s), double precision -> DOUBLE, timestamptz -> DATETIME(6),
// json/jsonb -> JSON, bytea -> LONGBLOB; a name it does not know is passed as it is.
std::string mysqlType(const std::string& declared, bool key);

// The value as MySQL takes it for a column of `declared` type, when it must change: timestamps
// to "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, booleans to 1/0. nullopt: stored as it is.
std::optional<std::string> mysqlValue(const std::string& declared, std::string_view value);

}  // namespace sql
