// The MySQL type create: auto gives a declared (PostgreSQL-style) type. The values themselves are
// converted by the sink for every database (column_types.h): DATETIMEs in UTC, booleans as 1/0.
#pragma once

#include <string>

namespace sql {

// The MySQL type for a declared (PostgreSQL-style) type name: text -> LONGTEXT (VARCHAR(255) for a
// key column: an index needs a bounded length), bigint -> BIGINT, boolean -> BOOLEAN,
// numeric(p,s) -> DECIMAL(p,s), double precision -> DOUBLE, timestamptz -> DATETIME(6),
// json/jsonb -> JSON, bytea -> LONGBLOB; a name it does not know is passed as it is.
std::string mysqlType(const std::string& declared, bool key);

}  // namespace sql
