// The SQL words each dialect gives (dialects.h): placeholders and values numbered once.
#include "dialects.h"

#include <gtest/gtest.h>

namespace {

const char* kMarked =
    "a = \x01"
    "2\x02 AND b = \x01"
    "1\x02 OR c = \x01"
    "2\x02";

TEST(Dialects, NumberedValuesBecomeEachDialectsPlaceholders) {
  std::vector<std::string> values{"first", "second"};
  auto pg = sql::bindMarks(sql::dialect(sql::Dialect::Postgres), kMarked, values);
  EXPECT_EQ(pg.statement, "a = $2 AND b = $1 OR c = $2");
  EXPECT_EQ(pg.values, values);
  auto sqlite = sql::bindMarks(sql::dialect(sql::Dialect::Sqlite), kMarked, values);
  EXPECT_EQ(sqlite.statement, "a = ?2 AND b = ?1 OR c = ?2");
  EXPECT_EQ(sqlite.values, values);
  // MySQL's ? are positional: each value as often and where its mark stands.
  auto mysql = sql::bindMarks(sql::dialect(sql::Dialect::Mysql), kMarked, values);
  EXPECT_EQ(mysql.statement, "a = ? AND b = ? OR c = ?");
  EXPECT_EQ(mysql.values, (std::vector<std::string>{"second", "first", "second"}));
  EXPECT_EQ(sql::bindMarks(sql::dialect(sql::Dialect::Mysql), "no values", {}).statement,
            "no values");
  // A value without its mark, or a mark without its value, is this program's mistake.
  EXPECT_THROW(sql::bindMarks(sql::dialect(sql::Dialect::Sqlite),
                              "a = \x01"
                              "1\x02",
                              values),
               std::logic_error);
  EXPECT_THROW(sql::bindMarks(sql::dialect(sql::Dialect::Postgres),
                              "a = \x01"
                              "3\x02",
                              values),
               std::logic_error);
}

TEST(Dialects, ColumnsQueryFindsASchemaQualifiedTable) {
  auto mysql = sql::dialect(sql::Dialect::Mysql).columnsQuery("analytics.events");
  EXPECT_NE(mysql.statement.find("TABLE_SCHEMA = ?"), std::string::npos);
  EXPECT_EQ(mysql.values, (std::vector<std::string>{"analytics", "events"}));
  auto bare = sql::dialect(sql::Dialect::Mysql).columnsQuery("events");
  EXPECT_NE(bare.statement.find("DATABASE()"), std::string::npos);
  EXPECT_EQ(bare.values, std::vector<std::string>{"events"});
  EXPECT_EQ(sql::dialect(sql::Dialect::Postgres).columnsQuery("analytics.events").values,
            std::vector<std::string>{"\"analytics\".\"events\""});
}

}  // namespace
