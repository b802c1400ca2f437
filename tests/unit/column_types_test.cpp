// What a column's type means, the same on every database: type names in any database's spelling,
// values converted to one stored form or refused with a reason.
#include "column_types.h"

#include <gtest/gtest.h>

#include "database.h"

namespace {

using sql::Converted;

// The stored form of `value` in a column of `type` (PostgreSQL style), or "refused: why".
std::string stored(const std::string& type, const std::string& value, bool plain = false) {
  sql::ValueStyle style;
  style.plainTimestamps = plain;
  std::string out;
  switch (sql::convertValue(sql::columnType(type), value, style, out)) {
    case Converted::Same:
      return value;
    case Converted::Changed:
      return out;
    case Converted::Refused:
      return "refused: " + out;
  }
  return "?";
}

bool refused(const std::string& type, const std::string& value) {
  return stored(type, value).rfind("refused: ", 0) == 0;
}

TEST(ColumnTypes, NamesInEveryDatabasesSpellingMeanOneType) {
  EXPECT_EQ(sql::columnType("TIMESTAMP WITH TIME ZONE").name, "timestamptz");
  EXPECT_EQ(sql::columnType("timestamp(3)  with time zone").name, "timestamptz");
  EXPECT_EQ(sql::columnType("int8").name, "bigint");
  EXPECT_EQ(sql::columnType("bigint(20)").name, "bigint");
  EXPECT_EQ(sql::columnType("INT").name, "integer");
  EXPECT_EQ(sql::columnType("character varying(20)").name, "varchar(20)");
  EXPECT_EQ(sql::columnType("VARCHAR(20)").maxChars, 20u);
  EXPECT_EQ(sql::columnType("numeric(12, 2)").name, "numeric(12,2)");
  EXPECT_EQ(sql::columnType("DECIMAL(12,2)").name, "numeric(12,2)");
  EXPECT_EQ(sql::columnType("tinyint(1)").kind, sql::ValueKind::Boolean);
  EXPECT_EQ(sql::columnType("datetime(6)").kind, sql::ValueKind::Timestamp);
  EXPECT_EQ(sql::columnType("").kind, sql::ValueKind::Text);
  EXPECT_EQ(sql::columnType("LONGTEXT").kind, sql::ValueKind::Text);
  EXPECT_EQ(sql::columnType("text[]").kind, sql::ValueKind::Unchecked);
  EXPECT_EQ(sql::columnType("uuid").kind, sql::ValueKind::Unchecked);
}

TEST(ColumnTypes, IntegersInRangeOnly) {
  EXPECT_EQ(stored("bigint", "42"), "42");
  EXPECT_EQ(stored("bigint", "+007"), "7");
  EXPECT_EQ(stored("bigint", "-0"), "0");
  EXPECT_EQ(stored("bigint", "9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(stored("bigint", "-9223372036854775808"), "-9223372036854775808");
  EXPECT_TRUE(refused("bigint", "9223372036854775808"));
  EXPECT_TRUE(refused("bigint", "123456789012345678901234567890"));
  EXPECT_TRUE(refused("integer", "2147483648"));
  EXPECT_EQ(stored("integer", "-2147483648"), "-2147483648");
  EXPECT_TRUE(refused("smallint", "40000"));
  EXPECT_EQ(stored("integer", "[1,2]"), "refused: '[1,2]' is not an integer");
  EXPECT_TRUE(refused("bigint", "1.5"));
  EXPECT_TRUE(refused("bigint", "1e3"));
  EXPECT_TRUE(refused("bigint", "true"));
  EXPECT_TRUE(refused("bigint", ""));
  EXPECT_TRUE(refused("bigint", " 1"));
}

TEST(ColumnTypes, NumericsRoundToTheirScaleHalfAwayFromZero) {
  EXPECT_EQ(stored("numeric(12,2)", "1.005"), "1.01");
  EXPECT_EQ(stored("numeric(12,2)", "-1.005"), "-1.01");
  EXPECT_EQ(stored("numeric(12,2)", "1.004"), "1.00");
  EXPECT_EQ(stored("numeric(12,2)", "7"), "7.00");
  EXPECT_EQ(stored("numeric(12,2)", "1E+2"), "100.00");
  EXPECT_EQ(stored("numeric(12,2)", ".5"), "0.50");
  EXPECT_EQ(stored("numeric(12,2)", "9.999"), "10.00");
  EXPECT_EQ(stored("numeric(12,2)", "0.001"), "0.00");
  EXPECT_EQ(stored("numeric(12,2)", "-0.001"), "0.00");
  EXPECT_EQ(stored("numeric(12,2)", "0.005"), "0.01");
  EXPECT_EQ(stored("numeric(12,2)", "1e-400"), "0.00");
  EXPECT_EQ(stored("numeric(4,2)", "99.99"), "99.99");
  EXPECT_TRUE(refused("numeric(4,2)", "99.995"));  // rounds to 100.00: 3 integer digits
  EXPECT_TRUE(refused("numeric(4,2)", "1e400"));
  EXPECT_EQ(stored("numeric", "123456789012345678901234567890.5"),
            "123456789012345678901234567890.5");
  EXPECT_TRUE(refused("numeric", "NaN"));
  EXPECT_TRUE(refused("numeric", "1,5"));
  EXPECT_TRUE(refused("numeric", "."));
  EXPECT_TRUE(refused("numeric", "1e"));
}

TEST(ColumnTypes, FloatsAreFiniteNumbers) {
  EXPECT_EQ(stored("double precision", "1.5e3"), "1.5e3");
  EXPECT_TRUE(refused("double precision", "1e400"));
  EXPECT_TRUE(refused("double precision", "NaN"));
  EXPECT_TRUE(refused("double precision", "-inf"));
  EXPECT_TRUE(refused("real", "0x10"));
  EXPECT_TRUE(refused("real", "\"1\""));
}

TEST(ColumnTypes, BooleansAreOneOrZero) {
  EXPECT_EQ(stored("boolean", "true"), "1");
  EXPECT_EQ(stored("boolean", "FALSE"), "0");
  EXPECT_EQ(stored("boolean", "yes"), "1");
  EXPECT_EQ(stored("boolean", "off"), "0");
  EXPECT_EQ(stored("boolean", "1"), "1");
  EXPECT_TRUE(refused("boolean", "2"));
  EXPECT_TRUE(refused("boolean", "[]"));
}

TEST(ColumnTypes, TimestampsAreIsoWithZonesStoredInUtc) {
  EXPECT_EQ(stored("timestamptz", "2024-05-01T12:00:00Z"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(stored("timestamptz", "2024-05-01T12:00:00+02:00"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(stored("timestamptz", "2024-05-01 01:30:00-0230"), "2024-05-01T04:00:00Z");
  EXPECT_EQ(stored("timestamptz", "2024-03-01T00:30:00+01"), "2024-02-29T23:30:00Z");
  EXPECT_EQ(stored("timestamptz", "2023-12-31T23:00:00-01:00"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(stored("timestamptz", "2024-05-01T12:00:00.123000Z"), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(stored("timestamptz", "2024-05-01T12:00:00.1234567Z"), "2024-05-01T12:00:00.123456Z");
  EXPECT_EQ(stored("timestamptz", "2024-05-01T12:00Z"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(stored("timestamptz", "2024-05-01T12:00:00+02:00", true), "2024-05-01 10:00:00");
  EXPECT_EQ(stored("timestamp", "2024-05-01T12:00:00"), "2024-05-01T12:00:00");
  EXPECT_EQ(stored("timestamp", "2024-05-01T12:00:00+02:00"), "2024-05-01T10:00:00");
  EXPECT_EQ(stored("timestamp", "2024-05-01"), "2024-05-01T00:00:00");
  EXPECT_TRUE(refused("timestamptz", "2024-05-01T12:00:00"));  // no zone: which instant?
  EXPECT_TRUE(refused("timestamptz", "1714564800"));           // epoch seconds
  EXPECT_TRUE(refused("timestamptz", "2023-02-29T00:00:00Z"));
  EXPECT_TRUE(refused("timestamptz", "2024-05-01T24:00:00Z"));
  EXPECT_TRUE(refused("timestamptz", "2024-05-01T12:00:60Z"));
  EXPECT_TRUE(refused("timestamptz", "2024-13-01T12:00:00Z"));
  EXPECT_TRUE(refused("timestamptz", "yesterday"));
  EXPECT_TRUE(refused("timestamptz", "2024-05-01T12:00:00Zjunk"));
  EXPECT_TRUE(refused("timestamptz", "0000-01-01T00:00:00Z"));
  EXPECT_EQ(stored("date", "2024-02-29"), "2024-02-29");
  // A timestamp into a date column (value: now): its date as written, as PostgreSQL takes it.
  EXPECT_EQ(stored("date", "2024-02-29T23:30:00.123Z"), "2024-02-29");
  EXPECT_EQ(stored("date", "2024-02-29 23:30:00-05:00"), "2024-02-29");
  EXPECT_TRUE(refused("date", "2024-02-29T25:00:00Z"));
  EXPECT_TRUE(refused("date", "2024-02-29Tjunk"));
}

TEST(ColumnTypes, JsonAndTextAreCheckedForWhatEveryDatabaseRefuses) {
  EXPECT_EQ(stored("jsonb", "[1,{\"a\":null}]"), "[1,{\"a\":null}]");
  EXPECT_EQ(stored("jsonb", "12"), "12");
  EXPECT_TRUE(refused("jsonb", "abc"));
  EXPECT_TRUE(refused("json", "{\"a\":"));
  EXPECT_TRUE(refused("jsonb", std::string(2000, '[') + std::string(2000, ']')));
  // Valid JSON no JSON column stores the same everywhere: an escaped NUL, a lone surrogate.
  EXPECT_TRUE(refused("jsonb", "{\"a\":\"x\\u0000y\"}"));
  EXPECT_TRUE(refused("jsonb", "[\"\\ud800\"]"));
  EXPECT_TRUE(refused("jsonb", "[\"\\udc00\"]"));
  EXPECT_TRUE(refused("jsonb", "[\"\\ud800\\u0041\"]"));
  EXPECT_EQ(stored("jsonb", "[\"\\ud83d\\ude00\"]"), "[\"\\ud83d\\ude00\"]");
  EXPECT_EQ(stored("jsonb", "[\"\\\\u0000\"]"), "[\"\\\\u0000\"]");  // an escaped backslash
  EXPECT_TRUE(refused("jsonb", "[\"\\\\\\u0000\"]"));  // an escaped backslash, then \u0000
  EXPECT_TRUE(refused("jsonb", "[\"\\ud83d\\ude00\\udc00\"]"));  // a pair, then a lone low half
  EXPECT_TRUE(refused("text", std::string("a\0b", 3)));
  EXPECT_TRUE(refused("text", "\xff\xfe"));
  EXPECT_EQ(stored("varchar(3)", "h\xc3\xa9h"), "h\xc3\xa9h");  // 3 characters, 4 bytes
  EXPECT_TRUE(refused("varchar(3)", "abcd"));
  // A reason is text a database stores: no control or stray bytes from the value in it.
  std::string reason = stored("bigint", "\x01\xff");
  EXPECT_EQ(reason,
            "refused: '?"
            "?' is not an integer");
}

sql::TableSpec table(std::vector<std::pair<std::string, std::string>> columns) {
  sql::TableSpec t;
  t.name = "events";
  for (auto& [name, type] : columns) t.columns.push_back({name, type});
  return t;
}

TEST(ColumnTypes, DeclaredTypesAreComparedWithTheTable) {
  auto pg = table({{"id", "bigint"}, {"at", "timestamptz"}, {"raw", "jsonb"}, {"note", ""}});
  std::vector<sql::ExistingColumn> same = {{"id", "bigint"},
                                           {"at", "timestamp with time zone"},
                                           {"raw", "json"},
                                           {"note", "character varying(5)"}};
  auto types = sql::resolveColumns(pg, same, sql::dialectNamed("postgresql"), "db");
  EXPECT_EQ(types[3].maxChars, 5u);  // undeclared: the table's own type
  std::vector<sql::ExistingColumn> other = {
      {"id", "integer"}, {"at", "text"}, {"raw", "jsonb"}, {"note", "text"}};
  try {
    sql::resolveColumns(pg, other, sql::dialectNamed("postgresql"), "db");
    FAIL() << "mismatches accepted";
  } catch (const std::runtime_error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("column id is declared bigint, the table has integer"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("column at is declared timestamptz, the table has text"),
              std::string::npos)
        << message;
  }
  auto missing = table({{"id", "bigint"}, {"gone", "text"}});
  EXPECT_THROW(sql::resolveColumns(missing, same, sql::dialectNamed("postgresql"), "db"),
               std::runtime_error);
  // SQLite: storage classes; an INTEGER column holds 64 bits.
  std::vector<sql::ExistingColumn> lite = {
      {"ID", "INTEGER"}, {"at", "TEXT"}, {"raw", "TEXT"}, {"note", ""}};
  types = sql::resolveColumns(pg, lite, sql::dialectNamed("sqlite"), "db");
  EXPECT_EQ(types[1].kind, sql::ValueKind::TimestampTz);
  std::vector<sql::ExistingColumn> wrong = {
      {"id", "TEXT"}, {"at", "TEXT"}, {"raw", "INTEGER"}, {"note", ""}};
  EXPECT_THROW(sql::resolveColumns(pg, wrong, sql::dialectNamed("sqlite"), "db"),
               std::runtime_error);
  auto undeclared = table({{"n", ""}});
  types = sql::resolveColumns(undeclared, {{"n", "INTEGER"}}, sql::dialectNamed("sqlite"), "db");
  EXPECT_EQ(types[0].max, INT64_MAX);
}

}  // namespace
