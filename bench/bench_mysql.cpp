// MariaDB bulk load: N GH Archive-like events (recorded events with fresh ids) through the real
// etlrun into one keyed table (event id, type, actor, repo, created_at, the whole event as JSON),
// against the same rows loaded by the server itself: LOAD DATA INFILE of a tab-separated file, and
// a plain script of multi-row INSERTs of about 1 MB in one transaction through the mariadb client.
//   scripts/with-mariadb.sh build/bench/bench_mysql [events]
#include <mysql.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include "etl/record.h"
#include "event_generator.h"
#include "mariadb_env.h"
#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* kTable =
    "(event_id VARCHAR(255) NOT NULL, type LONGTEXT, actor LONGTEXT, repo LONGTEXT, "
    "created_at DATETIME(6), raw JSON, PRIMARY KEY (event_id)) ENGINE=InnoDB DEFAULT "
    "CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

// "2021-07-21T06:00:00Z" -> "2021-07-21 06:00:00"
std::string plainTime(const std::string& iso) {
  std::string t = iso.substr(0, 19);
  if (t.size() > 10) t[10] = ' ';
  return t;
}

std::string tsvField(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = argc > 1 ? std::stoull(argv[1]) : 200000;
  if (!etltest::haveMariaDb()) {
    std::cerr << "run it beside a MariaDB: scripts/with-mariadb.sh " << argv[0] << "\n";
    return 2;
  }
  etltest::TempDir dir;
  auto templates = etltest::templateEvents(etltest::dataDir());
  etltest::writeEvents(templates, events, 70000000000, dir / "events.jsonl");
  double megabytes = static_cast<double>(etltest::readFile(dir / "events.jsonl").size()) / 1e6;
  std::printf("%llu events, %.1f MB of JSON lines\n", static_cast<unsigned long long>(events),
              megabytes);

  // 1. etlrun: file -> sql (create: auto), batches of 5,000.
  etltest::TestMariaDb db;
  etltest::writeFile(
      dir / "load.yaml",
      "connections:\n  db: {uri: \"" + db.uri() +
          "\"}\npipelines:\n  load:\n    source: {plugin: file, path: \"" + (dir / "events.jsonl") +
          "\", stream: events}\n    sink:\n      plugin: sql\n      connection: db\n"
          "      create: auto\n      tables:\n        events:\n          stream: events\n"
          "          key: [event_id]\n          columns:\n"
          "            event_id: {path: id, required: true}\n"
          "            type: {path: type, required: true}\n"
          "            actor: actor.login\n            repo: repo.name\n"
          "            created_at: {path: created_at, type: timestamptz}\n"
          "            raw: {value: record, type: jsonb}\n"
          "    batch: {max_records: 5000, max_latency: 1s}\n");
  auto start = Clock::now();
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "load.yaml"});
  double etlrun = since(start);
  if (run.exitCode != 0) {
    std::cerr << run.err << "\n";
    return 1;
  }
  int64_t stored = db.count("SELECT count(*) FROM events");
  std::printf(
      "etlrun (multi-row INSERT ... ON DUPLICATE KEY UPDATE, ~1 MB each): %.2f s, %.0f rows/s, "
      "%lld rows\n",
      etlrun, static_cast<double>(stored) / etlrun, static_cast<long long>(stored));

  // The same rows as a tab-separated file and as an SQL script, for the server's own loaders.
  {
    std::ofstream tsv(dir / "events.tsv");
    std::ofstream script(dir / "events.sql");
    std::unique_ptr<MYSQL, void (*)(MYSQL*)> h(mysql_init(nullptr), mysql_close);
    script << "SET SESSION sql_mode = 'STRICT_ALL_TABLES'; START TRANSACTION;\n";
    std::string statement;
    auto quote = [&](const std::string& v) {
      std::string out(v.size() * 2 + 1, '\0');
      out.resize(mysql_escape_string(out.data(), v.data(), static_cast<unsigned long>(v.size())));
      return "'" + out + "'";
    };
    for (const auto& line : etltest::readLines(dir / "events.jsonl")) {
      etl::Record r("e", line);
      std::string id = r.get<std::string>("id"), type = r.get<std::string>("type");
      std::string actor = r.text("actor.login").value_or(""),
                  repo = r.text("repo.name").value_or("");
      std::string created = plainTime(r.text("created_at").value_or("1970-01-01T00:00:00Z"));
      tsv << tsvField(id) << '\t' << tsvField(type) << '\t' << tsvField(actor) << '\t'
          << tsvField(repo) << '\t' << created << '\t' << tsvField(line) << '\n';
      statement += std::string(statement.empty() ? "INSERT INTO events_script VALUES " : ",") +
                   "(" + quote(id) + "," + quote(type) + "," + quote(actor) + "," + quote(repo) +
                   ",'" + created + "'," + quote(line) + ")";
      if (statement.size() > (1 << 20)) {
        script << statement << ";\n";
        statement.clear();
      }
    }
    if (!statement.empty()) script << statement << ";\n";
    script << "COMMIT;\n";
  }
  db.query(std::string("CREATE TABLE events_load ") + kTable);
  db.query(std::string("CREATE TABLE events_script ") + kTable);

  // 2. LOAD DATA INFILE: the server reads the file itself.
  start = Clock::now();
  db.query("LOAD DATA INFILE '" + (dir / "events.tsv") + "' INTO TABLE events_load");
  double load = since(start);
  std::printf("LOAD DATA INFILE: %.2f s, %.0f rows/s, %lld rows\n", load,
              static_cast<double>(events) / load,
              static_cast<long long>(db.count("SELECT count(*) FROM events_load")));

  // 3. A plain multi-row INSERT script through the mariadb client.
  const char* uri = std::getenv("ETLTEST_MYSQL_URI");
  std::string rest = std::string(uri).substr(std::string(uri).find('@') + 1);
  std::string host = rest.substr(0, rest.find(':'));
  std::string port = rest.substr(rest.find(':') + 1, rest.find('/') - rest.find(':') - 1);
  start = Clock::now();
  auto script = etltest::runProcess(
      "/bin/sh", {"-c", "mariadb --no-defaults --default-character-set=utf8mb4 -uroot -h" + host +
                            " -P" + port + " " + db.name() + " < " + (dir / "events.sql")});
  double plain = since(start);
  if (script.exitCode != 0)
    std::cerr << script.err.substr(script.err.size() > 400 ? script.err.size() - 400 : 0) << "\n";
  std::printf(
      "multi-row INSERT script (mariadb client, one transaction): %.2f s, %.0f rows/s, %lld rows\n",
      plain, static_cast<double>(events) / plain,
      static_cast<long long>(db.count("SELECT count(*) FROM events_script")));
  return 0;
}
