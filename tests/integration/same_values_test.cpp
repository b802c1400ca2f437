// The same values on every database: one hostile file of typed columns (create: auto) stored into
// PostgreSQL, SQLite and MariaDB gives the same rows and the same dead letters, each refused value
// with one reason naming column, type and why; and a declared type that the existing table does
// not have stops the pipeline at start, naming table, column and both types.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "mariadb_env.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

// id, then the value of one column; every other column is left out (NULL).
const char* const kGood[] = {
    R"({"id":1,"n":"+7","amount":"1.005","ratio":1.5e3,"ok":"yes","at":"2024-05-01T12:00:00+02:00","day":"2024-02-29","doc":{"a":[1,2]},"name":"h\u00e9llo","note":"plain"})",
    R"({"id":2,"n":-2147483648,"amount":-0.001,"ratio":-0.25,"ok":false,"at":"2023-12-31T23:30:00-01:00","doc":"{\"b\":true}","name":"12345678"})",
    R"({"id":3,"amount":"999999.994","ok":"off","at":"2024-05-01 01:30:00Z","doc":[]})",
};
// Each refused for exactly one value: the reason's expected part.
const std::pair<const char*, const char*> kBad[] = {
    {R"({"id":10,"n":[1,2]})", "column n of typed (integer): '[1,2]' is not an integer"},
    {R"({"id":11,"n":2147483648})", "is out of range for integer"},
    {R"({"id":12,"amount":"abc"})", "column amount of typed (numeric(8,2)): 'abc' is not a number"},
    {R"({"id":13,"amount":1e10})", "is out of range for numeric(8,2)"},
    {R"({"id":14,"ratio":1e400})", "is out of range for a float"},
    {R"({"id":15,"ok":"maybe"})", "is not a boolean"},
    {R"({"id":16,"at":1714564800})", "'1714564800' is not a timestamp with a time zone"},
    {R"({"id":17,"at":"2024-05-01T12:00:00"})", "it has no time zone"},
    {R"({"id":18,"at":"2023-02-29T00:00:00Z"})", "no such date"},
    {R"({"id":19,"day":"2024-13-01"})", "no such date"},
    {R"({"id":20,"doc":"not json"})", "column doc of typed (jsonb): 'not json' is not JSON"},
    {R"({"id":21,"doc":{"a":"x\u0000y"}})", "an escaped NUL"},
    {R"({"id":22,"name":"too long a name"})", "longer than varchar(8) allows"},
    {R"({"id":23,"note":"a\u0000b"})", "holds a NUL byte"},
    {R"({"id":"x"})", "column id of typed (bigint): 'x' is not an integer"},
};

struct Stored {
  std::vector<std::string> rows, letters;
};

class SameValues : public testing::Test {
 protected:
  std::string pipeline(const std::string& uri) const {
    return "connections:\n  db: {uri: \"" + uri +
           "\"}\npipelines:\n  t:\n    source: {plugin: "
           "file, path: \"" +
           (dir_ / "in.jsonl") +
           "\", stream: v}\n    sink:\n      plugin: sql\n"
           "      connection: db\n      create: auto\n      tables:\n        typed:\n"
           "          stream: v\n          key: [id]\n          columns:\n"
           "            id: {path: id, required: true, type: bigint}\n"
           "            n: {path: n, type: integer}\n"
           "            amount: {path: amount, type: \"numeric(8, 2)\"}\n"
           "            ratio: {path: ratio, type: double precision}\n"
           "            ok: {path: ok, type: boolean}\n"
           "            at: {path: at, type: timestamptz}\n"
           "            day: {path: day, type: date}\n"
           "            doc: {path: doc, type: jsonb}\n"
           "            name: {path: name, type: varchar(8)}\n"
           "            note: {path: note}\n";
  }
  void SetUp() override {
    std::string lines;
    for (const char* g : kGood) lines += std::string(g) + "\n";
    for (const auto& [b, why] : kBad) lines += std::string(b) + "\n";
    etltest::writeFile(dir_ / "in.jsonl", lines);
  }
  etltest::ProcessResult run(const std::string& uri, const std::string& name) {
    etltest::writeFile(dir_ / (name + ".yaml"), pipeline(uri));
    return etltest::runEtlrun(
        {"--once", "--state-dir=" + (dir_ / ("state-" + name)), dir_ / (name + ".yaml")});
  }
  // A row as text: the same text wherever it was stored (each database's own spelling of a
  // boolean, a time or JSON turned into one; JSON without its spaces).
  static std::string spaceless(std::string s) {
    s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
    return s;
  }
  etltest::TempDir dir_;
};

TEST_F(SameValues, OneHostileFileGivesTheSameRowsAndDeadLettersOnEveryDatabase) {
  etltest::TestDatabase pg;
  auto onPg = run(pg.uri(), "pg");
  ASSERT_EQ(onPg.exitCode, 0) << onPg.err;
  auto onLite = run("sqlite:" + (dir_ / "v.sqlite"), "lite");
  ASSERT_EQ(onLite.exitCode, 0) << onLite.err;

  const std::string letters = "SELECT reason FROM etl_dead_letters ORDER BY reason";
  Stored pgStored, liteStored;
  for (const auto& row :
       etltest::sql(pg.conninfo(),
                    "SELECT concat_ws('|', id, n, amount, round(ratio * 1000)::bigint, ok::int, "
                    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), day, doc, "
                    "name, note) "
                    "FROM typed ORDER BY id")) {
    pgStored.rows.push_back(spaceless(row));
  }
  pgStored.letters = etltest::sql(pg.conninfo(), letters);
  std::sort(pgStored.letters.begin(), pgStored.letters.end());
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session lite("SQLite", dir_ / "v.sqlite");
  std::vector<std::string> rows;
  std::string joined;  // concat_ws, which SQLite has only since 3.44
  for (const char* c : {"id", "n", "amount", "CAST(round(ratio * 1000) AS INTEGER)", "ok", "at",
                        "day", "doc", "name", "note"}) {
    joined += (joined.empty() ? "" : " || ") + std::string("coalesce(") + c + " || '|', '')";
  }
  lite << "SELECT rtrim(" + joined + ", '|') FROM typed ORDER BY id",
      Poco::Data::Keywords::into(rows), Poco::Data::Keywords::now;
  for (const auto& row : rows) liteStored.rows.push_back(spaceless(row));
  lite << letters, Poco::Data::Keywords::into(liteStored.letters), Poco::Data::Keywords::now;
  std::sort(liteStored.letters.begin(), liteStored.letters.end());

  etltest::TestMariaDb maria;
  auto onMaria = run(maria.uri(), "maria");
  ASSERT_EQ(onMaria.exitCode, 0) << onMaria.err;
  Stored mariaStored;
  for (const auto& row : maria.query(
           "SELECT CONCAT_WS('|', id, n, amount, CAST(ROUND(ratio * 1000) AS SIGNED), ok, "
           "DATE_FORMAT(at, '%Y-%m-%dT%H:%i:%sZ'), day, doc, name, note) FROM typed ORDER BY id")) {
    mariaStored.rows.push_back(spaceless(row));
  }
  mariaStored.letters = maria.query(letters);
  std::sort(mariaStored.letters.begin(), mariaStored.letters.end());

  EXPECT_EQ(pgStored.rows,
            (std::vector<std::string>{
                "1|7|1.01|1500000|1|2024-05-01T10:00:00Z|2024-02-29|{\"a\":[1,2]}|h\u00e9llo|plain",
                "2|-2147483648|0.00|-250|0|2024-01-01T00:30:00Z|{\"b\":true}|12345678",
                "3|999999.99|0|2024-05-01T01:30:00Z|[]"}));
  EXPECT_EQ(liteStored.rows, pgStored.rows);
  EXPECT_EQ(liteStored.letters, pgStored.letters);
  EXPECT_EQ(mariaStored.rows, pgStored.rows);
  EXPECT_EQ(mariaStored.letters, pgStored.letters);
  ASSERT_EQ(pgStored.letters.size(), std::size(kBad));
  for (const auto& [line, why] : kBad) {
    EXPECT_TRUE(std::any_of(pgStored.letters.begin(), pgStored.letters.end(),
                            [&](const std::string& r) { return r.find(why) != std::string::npos; }))
        << "no dead letter says '" << why << "' for " << line;
  }
  // SQLite's table is STRICT: a value of another type is refused by SQLite itself too.
  EXPECT_THROW(
      (lite << "INSERT INTO typed (id, n) VALUES (99, '[1,2]')", Poco::Data::Keywords::now),
      Poco::Exception);
}

TEST_F(SameValues, ADeclaredTypeTheTableDoesNotHaveStopsThePipelineNamingBoth) {
  etltest::TestDatabase pg;
  etltest::sql(pg.conninfo(),
               "CREATE TABLE typed (id bigint PRIMARY KEY, n integer, amount numeric(8,2), ratio "
               "double precision, ok boolean, at text, day date, doc jsonb, name varchar(8), "
               "note text)");
  auto onPg = run(pg.uri(), "pg");
  EXPECT_EQ(onPg.exitCode, 70) << onPg.err;
  EXPECT_NE(onPg.err.find("table typed in"), std::string::npos) << onPg.err;
  EXPECT_NE(onPg.err.find("column at is declared timestamptz, the table has text"),
            std::string::npos)
      << onPg.err;
  EXPECT_EQ(pg.count("SELECT count(*) FROM typed"), 0);

  Poco::Data::SQLite::Connector::registerConnector();
  {
    Poco::Data::Session lite("SQLite", dir_ / "v.sqlite");
    lite << "CREATE TABLE typed (id INTEGER PRIMARY KEY, n TEXT, amount TEXT, ratio REAL, ok "
            "INTEGER, at TEXT, day TEXT, doc TEXT, name TEXT, note TEXT)",
        Poco::Data::Keywords::now;
  }
  auto onLite = run("sqlite:" + (dir_ / "v.sqlite"), "lite");
  EXPECT_EQ(onLite.exitCode, 70) << onLite.err;
  // SQLite compares storage classes: a timestamp is TEXT there, an integer is not.
  EXPECT_NE(onLite.err.find("column n is declared integer, the table has TEXT"), std::string::npos)
      << onLite.err;
  EXPECT_EQ(onLite.err.find("column at is declared"), std::string::npos) << onLite.err;

  etltest::TestMariaDb maria;
  maria.query(
      "CREATE TABLE typed (id BIGINT PRIMARY KEY, n INT, amount DECIMAL(8,2), ratio DOUBLE, ok "
      "BOOLEAN, at TEXT, day DATE, doc JSON, name VARCHAR(8), note LONGTEXT)");
  auto onMaria = run(maria.uri(), "maria");
  EXPECT_EQ(onMaria.exitCode, 70) << onMaria.err;
  // Only the real mismatch: a JSON column (longtext to MariaDB), BOOLEAN (tinyint(1)) and
  // DECIMAL(8,2) are what was declared.
  EXPECT_NE(onMaria.err.find("does not match its mapping: column at is declared timestamptz, the "
                             "table has text. The table has:"),
            std::string::npos)
      << onMaria.err;
}

}  // namespace
