// The MySQL dialect's parts that need no server: URIs (percent-encoding, ports, what is refused,
// a description without the password), the dialect a URI names, MySQL migrations split by
// DELIMITER, and the interim value conversions (timestamps with offsets to UTC, booleans).
#include <Poco/Environment.h>
#include <Poco/File.h>
#include <gtest/gtest.h>

#include "column_types.h"
#include "dialects.h"
#include "migrations.h"
#include "mysql_session.h"
#include "test_env.h"

namespace {

TEST(MysqlUri, PartsArePercentDecodedAndTheDescriptionHoldsNoPassword) {
  Poco::Environment::set("MYSQL_PWD", "");
  auto c = sql::parseMysqlUri("mariadb://et%40l:pa%20ss%27w@db.example:3307/shop%2Ddb");
  EXPECT_EQ(c.user, "et@l");
  EXPECT_EQ(c.password, "pa ss'w");
  EXPECT_EQ(c.host, "db.example");
  EXPECT_EQ(c.port, 3307u);
  EXPECT_EQ(c.database, "shop-db");
  EXPECT_EQ(c.description, "mariadb://et@l@db.example:3307/shop-db");
  EXPECT_EQ(c.description.find("pa ss"), std::string::npos);
  EXPECT_EQ(sql::parseMysqlUri("mysql://u@h/d").port, 3306u);
}

TEST(MysqlUri, MistakesAreRefusedWithoutRepeatingThePassword) {
  for (const char* bad : {"mysql://h/d", "mysql://u:secret1@h:0/d", "mysql://u:secret1@h:99999/d",
                          "mysql://u:secret1@h:x/d", "mysql://u:secret1@h",
                          "mysql://u:se;cret1@h/d", "mysql://u:secret1@h/d?socket=/run/m.sock"}) {
    try {
      sql::parseMysqlUri(bad);
      ADD_FAILURE() << bad << " was taken";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).find("secret1"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("cret1"), std::string::npos) << e.what();
    }
  }
}

TEST(MysqlUri, ThePasswordFromTheEnvironmentWins) {
  Poco::Environment::set("MYSQL_PWD", "from env");
  EXPECT_EQ(sql::parseMysqlUri("mysql://u:in-uri@h/d").password, "from env");
  Poco::Environment::set("MYSQL_PWD", "");
  EXPECT_EQ(sql::parseMysqlUri("mysql://u:in-uri@h/d").password, "in-uri");
}

TEST(Dialects, OneFunctionChoosesTheDatabaseFromTheUri) {
  EXPECT_STREQ(sql::dialectOf("sqlite:x.sqlite").name(), "sqlite");
  EXPECT_STREQ(sql::dialectOf("mysql://u@h/d").name(), "mysql");
  EXPECT_STREQ(sql::dialectOf("mariadb://u@h/d").name(), "mysql");
  EXPECT_STREQ(sql::dialectOf("postgresql://u@h/d").name(), "postgresql");
  EXPECT_STREQ(sql::dialectOf("host=h dbname=d").name(), "postgresql");
  EXPECT_THROW(sql::dialectOf(""), std::runtime_error);
  EXPECT_STREQ(sql::dialectNamed("mysql").name(), "mysql");
}

TEST(MysqlMigrations, DelimiterLinesKeepABodyWholeAndTransactionControlIsRefused) {
  etltest::TempDir dir;
  Poco::File(dir / "m/mysql").createDirectories();
  etltest::writeFile(dir / "m/mysql/001_a.sql",
                     "CREATE TABLE t (id INT);\n-- a comment; with a semicolon\n"
                     "DELIMITER //\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW\n"
                     "BEGIN\n  SET NEW.id = NEW.id + 1;\n  SET NEW.id = NEW.id * 2;\nEND//\n"
                     "DELIMITER ;\nINSERT INTO t VALUES (1); INSERT INTO t VALUES (2);\n");
  auto migrations = sql::readMigrations(dir / "m", sql::dialectNamed("mysql"));
  ASSERT_EQ(migrations.size(), 1u);
  ASSERT_EQ(migrations[0].each.size(), 4u);
  EXPECT_EQ(migrations[0].each[0].find("CREATE TABLE t"), 0u);
  EXPECT_NE(migrations[0].each[1].find("SET NEW.id = NEW.id * 2;\nEND"), std::string::npos)
      << migrations[0].each[1];
  EXPECT_NE(migrations[0].each[2].find("INSERT INTO t VALUES (1)"), std::string::npos);
  EXPECT_NE(migrations[0].each[3].find("INSERT INTO t VALUES (2)"), std::string::npos);
  etltest::writeFile(dir / "m/mysql/002_b.sql", "CREATE TABLE u (id INT);\nCOMMIT;\n");
  try {
    sql::readMigrations(dir / "m", sql::dialectNamed("mysql"));
    ADD_FAILURE() << "COMMIT was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("002_b.sql:2: COMMIT"), std::string::npos) << e.what();
  }
}

TEST(MysqlValues, CreateAutoGivesEachDeclaredTypeItsMysqlType) {
  EXPECT_EQ(sql::dialectNamed("mysql").storageType("text", true), "VARCHAR(255)");
  EXPECT_EQ(sql::dialectNamed("mysql").storageType("text", false), "LONGTEXT");
  EXPECT_EQ(sql::dialectNamed("mysql").storageType("numeric(12, 2)", false), "DECIMAL(12,2)");
  EXPECT_EQ(sql::dialectNamed("mysql").storageType("timestamp with time zone", false),
            "DATETIME(6)");
  EXPECT_EQ(sql::dialectNamed("mysql").storageType("jsonb", false), "JSON");
}

}  // namespace
