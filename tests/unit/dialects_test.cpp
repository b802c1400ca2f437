// The SQL words each dialect gives (dialects.h): placeholders and values numbered once, and the
// statements written once from them (database.h).
#include "dialects.h"

#include <gtest/gtest.h>

#include "database.h"

namespace {

const char* kMarked =
    "a = \x01"
    "2\x02 AND b = \x01"
    "1\x02 OR c = \x01"
    "2\x02";

TEST(Dialects, NumberedValuesBecomeEachDialectsPlaceholders) {
  std::vector<std::string> values{"first", "second"};
  auto pg = sql::bindMarks(sql::dialectNamed("postgresql"), kMarked, values);
  EXPECT_EQ(pg.statement, "a = $2 AND b = $1 OR c = $2");
  EXPECT_EQ(pg.values, values);
  auto sqlite = sql::bindMarks(sql::dialectNamed("sqlite"), kMarked, values);
  EXPECT_EQ(sqlite.statement, "a = ?2 AND b = ?1 OR c = ?2");
  EXPECT_EQ(sqlite.values, values);
  // MySQL's ? are positional: each value as often and where its mark stands.
  auto mysql = sql::bindMarks(sql::dialectNamed("mysql"), kMarked, values);
  EXPECT_EQ(mysql.statement, "a = ? AND b = ? OR c = ?");
  EXPECT_EQ(mysql.values, (std::vector<std::string>{"second", "first", "second"}));
  EXPECT_EQ(sql::bindMarks(sql::dialectNamed("mysql"), "no values", {}).statement, "no values");
  // A value without its mark, or a mark without its value, is this program's mistake.
  EXPECT_THROW(sql::bindMarks(sql::dialectNamed("sqlite"),
                              "a = \x01"
                              "1\x02",
                              values),
               std::logic_error);
  EXPECT_THROW(sql::bindMarks(sql::dialectNamed("postgresql"),
                              "a = \x01"
                              "3\x02",
                              values),
               std::logic_error);
}

TEST(Dialects, ColumnsQueryFindsASchemaQualifiedTable) {
  auto mysql = sql::dialectNamed("mysql").columnsQuery("analytics.events");
  EXPECT_NE(mysql.statement.find("TABLE_SCHEMA = ?"), std::string::npos);
  EXPECT_EQ(mysql.values, (std::vector<std::string>{"analytics", "events"}));
  auto bare = sql::dialectNamed("mysql").columnsQuery("events");
  EXPECT_NE(bare.statement.find("DATABASE()"), std::string::npos);
  EXPECT_EQ(bare.values, std::vector<std::string>{"events"});
  EXPECT_EQ(sql::dialectNamed("postgresql").columnsQuery("analytics.events").values,
            std::vector<std::string>{"\"analytics\".\"events\""});
}

// Key a, b overwritten unless the new one is NULL, c never overwritten.
sql::TableSpec upsertTable() {
  sql::TableSpec t;
  t.name = "t";
  t.columns = {{"a", "bigint"}, {"b", "text", true, true}, {"c", "timestamptz", false}};
  t.key = {"a"};
  t.mode = sql::Mode::Upsert;
  return t;
}

TEST(Dialects, OneRowStatementIsWrittenOnceInEachDialectsWords) {
  auto t = upsertTable();
  EXPECT_EQ(sql::rowStatement(t, sql::dialectNamed("postgresql")),
            "INSERT INTO \"t\" (\"a\", \"b\", \"c\") VALUES ($1, $2, $3) ON CONFLICT (\"a\") DO "
            "UPDATE SET \"b\" = COALESCE(excluded.\"b\", \"t\".\"b\")");
  EXPECT_EQ(sql::rowStatement(t, sql::dialectNamed("sqlite")),
            "INSERT INTO \"t\" (\"a\", \"b\", \"c\") VALUES (?1, ?2, ?3) ON CONFLICT (\"a\") DO "
            "UPDATE SET \"b\" = COALESCE(excluded.\"b\", \"t\".\"b\")");
  EXPECT_EQ(sql::rowStatement(t, sql::dialectNamed("mysql")),
            "INSERT INTO \"t\" (\"a\", \"b\", \"c\") VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE "
            "\"b\" = COALESCE(VALUES(\"b\"), \"t\".\"b\")");
  // Insert: a key already there is skipped; MySQL's way sets the key to itself, never IGNORE.
  t.mode = sql::Mode::Insert;
  EXPECT_EQ(sql::rowStatement(t, sql::dialectNamed("postgresql")),
            "INSERT INTO \"t\" (\"a\", \"b\", \"c\") VALUES ($1, $2, $3) ON CONFLICT (\"a\") DO "
            "NOTHING");
  EXPECT_EQ(sql::rowStatement(t, sql::dialectNamed("mysql")),
            "INSERT INTO \"t\" (\"a\", \"b\", \"c\") VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE "
            "\"a\" = \"a\"");
  // A key column whose name holds a comma and a quote is still one name.
  t.key = {"x,\"y", "z"};
  EXPECT_EQ(sql::conflictClause(t, sql::dialectNamed("mysql")),
            " ON DUPLICATE KEY UPDATE \"x,\"\"y\" = \"x,\"\"y\"");
  t.key = {"a"};
  t.mode = sql::Mode::Update;
  EXPECT_EQ(sql::rowStatement(t, sql::dialectNamed("sqlite")),
            "UPDATE \"t\" SET \"b\" = COALESCE(?2, \"t\".\"b\") WHERE \"t\".\"a\" = ?1");
  // Positional placeholders (MySQL): the values in the order the text takes them.
  std::vector<std::size_t> order;
  EXPECT_EQ(sql::updateStatement(t,
                                 [&](std::size_t i) {
                                   order.push_back(i);
                                   return std::string("?");
                                 }),
            "UPDATE \"t\" SET \"b\" = COALESCE(?, \"t\".\"b\") WHERE \"t\".\"a\" = ?");
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 0}));
  // The key between two overwritten columns: the SET's values first, then the key's.
  t.columns = {{"b", "text"}, {"a", "bigint"}, {"c", "text"}};
  order.clear();
  EXPECT_EQ(sql::updateStatement(t,
                                 [&](std::size_t i) {
                                   order.push_back(i);
                                   return std::string("?");
                                 }),
            "UPDATE \"t\" SET \"b\" = ?, \"c\" = ? WHERE \"t\".\"a\" = ?");
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 2, 1}));
}

TEST(Dialects, CreateAutoUsesEachDialectsStorageTypes) {
  auto t = upsertTable();
  EXPECT_EQ(sql::createStatement(t, sql::dialectNamed("postgresql")),
            "CREATE TABLE IF NOT EXISTS \"t\" (\"a\" bigint, \"b\" text, \"c\" timestamptz, "
            "PRIMARY KEY (\"a\"))");
  EXPECT_EQ(sql::createStatement(t, sql::dialectNamed("sqlite")),
            "CREATE TABLE IF NOT EXISTS \"t\" (\"a\" INTEGER, \"b\" TEXT, \"c\" TEXT, PRIMARY KEY "
            "(\"a\")) STRICT");
  EXPECT_EQ(sql::createStatement(t, sql::dialectNamed("mysql")),
            "CREATE TABLE IF NOT EXISTS \"t\" (\"a\" BIGINT, \"b\" LONGTEXT, \"c\" DATETIME(6), "
            "PRIMARY KEY (\"a\")) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
}

TEST(Dialects, TheRegistryNamesEachDialectOnceByItsUriAndName) {
  for (const char* uri : {"sqlite:x.sqlite", "mysql://u@h/d", "mariadb://u@h/d",
                          "postgresql://u@h/d", "postgres://u@h/d", "host=h dbname=d"}) {
    const sql::SqlDialect& d = sql::dialectOf(uri);
    EXPECT_EQ(&sql::dialectNamed(d.name()), &d) << uri;
  }
  EXPECT_THROW(sql::dialectNamed("oracle"), std::invalid_argument);
  EXPECT_STREQ(sql::dialectOf("sqlite:x").name(), "sqlite");
  EXPECT_STREQ(sql::dialectOf("mariadb://u@h/d").name(), "mysql");
  EXPECT_STREQ(sql::dialectOf("postgresql://u@h/d").name(), "postgresql");
  // What a message tells a user to run: SQLite's through the sqlite3 tool on its file.
  EXPECT_EQ(sql::dialectNamed("sqlite").byHand("DELETE FROM t", "sqlite:/var/lib/e.sqlite"),
            "run: sqlite3 /var/lib/e.sqlite \"DELETE FROM t\"");
  EXPECT_EQ(sql::dialectNamed("postgresql").byHand("DELETE FROM t", "postgresql://u@h/d"),
            "DELETE FROM t");
  // A claim in one statement where the database has UPDATE ... RETURNING; else in three.
  const std::vector<std::string> columns{"id"};
  for (const char* name : {"postgresql", "sqlite"}) {
    EXPECT_NE(sql::dialectNamed(name)
                  .claimStatement("\"q\"", "\"id\"", " SET x = 1", "SELECT 1", columns)
                  .find("RETURNING"),
              std::string::npos);
  }
  EXPECT_EQ(sql::dialectNamed("mysql").claimStatement("\"q\"", "\"id\"", " SET x = 1", "SELECT 1",
                                                      columns),
            "");
}

}  // namespace
