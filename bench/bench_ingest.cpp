// Ingest benchmark, all on the same PostgreSQL server in one run:
//   (a)  COPY of the raw lines into a one-column jsonb table: the server's limit
//   (b)  the naive way: per event a SELECT, then an INSERT, each in its own transaction
//   (c)  etlrun: file -> push_event_parser -> sql     (the real binary and plugins, the shipped
//        backfill pipeline's sink and batch settings, default writers), and (c1) with writers: 1
//   (a') COPY again at the end, to show how much the machine drifted during the run
//   (s), (d): the same for the embedded SQLite store
//   (c) again at `large` events: peak RSS must stay flat as the input grows
// Prints events/s and MB/s of each, the ratios, and etlrun's peak RSS.
//   bench_ingest [events=200000] [naive_events=20000] [large=1000000, 0 = skip]
// Needs ETLTEST_PG / ETLTEST_PG_URI (scripts/with-postgres.sh sets them; bench/run-ingest.sh
// does everything).
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "bench_support.h"
#include "etl/record.h"
#include "event_generator.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  auto status = PQresultStatus(r);
  std::string error = PQresultErrorMessage(r);
  PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + error);
}

// (a): the lines as one CSV field each (quote and delimiter bytes that never occur in JSON).
double copyRaw(PGconn* conn, const std::string& path, const std::string& table,
               const std::string& compression = "") {
  exec(conn, "DROP TABLE IF EXISTS " + table);
  exec(conn, "CREATE TABLE " + table + " (doc jsonb" +
                 (compression.empty() ? "" : " COMPRESSION " + compression) + ")");
  auto start = Clock::now();
  PGresult* r = PQexec(
      conn,
      ("COPY " + table + " FROM STDIN (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')").c_str());
  if (PQresultStatus(r) != PGRES_COPY_IN) throw std::runtime_error(PQerrorMessage(conn));
  PQclear(r);
  std::ifstream in(path, std::ios::binary);
  std::string chunk(1 << 20, '\0');
  while (in.read(&chunk[0], static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    if (PQputCopyData(conn, chunk.data(), static_cast<int>(in.gcount())) != 1) {
      throw std::runtime_error(PQerrorMessage(conn));
    }
  }
  PQputCopyEnd(conn, nullptr);
  r = PQgetResult(conn);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) throw std::runtime_error(PQresultErrorMessage(r));
  PQclear(r);
  while ((r = PQgetResult(conn))) PQclear(r);
  return since(start);
}

// (b): find-or-create, one event at a time, autocommit.
double naive(PGconn* conn, const std::vector<std::string>& lines, std::size_t count) {
  exec(conn, "DROP TABLE IF EXISTS bench_naive");
  exec(conn, "CREATE TABLE bench_naive (event_id text PRIMARY KEY, raw jsonb NOT NULL)");
  auto start = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    std::string id = etl::Record("e", lines[i]).get<std::string>("id");
    const char* select[] = {id.c_str()};
    PGresult* r = PQexecParams(conn, "SELECT 1 FROM bench_naive WHERE event_id = $1", 1, nullptr,
                               select, nullptr, nullptr, 0);
    bool exists = PQntuples(r) > 0;
    PQclear(r);
    if (exists) continue;
    const char* insert[] = {id.c_str(), lines[i].c_str()};
    r = PQexecParams(conn, "INSERT INTO bench_naive (event_id, raw) VALUES ($1, $2)", 2, nullptr,
                     insert, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) throw std::runtime_error(PQresultErrorMessage(r));
    PQclear(r);
  }
  return since(start);
}

// (s): the embedded store's baseline: plain prepared INSERTs of the raw events (fields read with
// the same JSON view), one transaction per `batch` (etlrun's batch size), WAL and synchronous=FULL
// as etlrun uses.
double sqlitePlain(const std::vector<std::string>& lines, const std::string& path,
                   std::size_t batch) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  auto run = [&](const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + (error ? error : "?"));
    }
  };
  run("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  run(etltest::readFile(etltest::sourceDir() +
                        "/pipelines/github/migrations/sqlite/001_github_tables.sql"));
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR IGNORE INTO github_events (event_id, type, actor_id, repo_id, "
                     "created_at, raw) VALUES (?, ?, ?, ?, ?, ?)",
                     -1, &insert, nullptr);
  auto start = Clock::now();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i % batch == 0) run(i ? "COMMIT; BEGIN" : "BEGIN");
    etl::Record r("github_events", lines[i]);
    std::string id = r.get<std::string>("id"), type = r.get<std::string>("type");
    std::string created = r.find<std::string>("created_at").value_or("");
    sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, type.data(), static_cast<int>(type.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert, 3, r.find<int64_t>("actor.id").value_or(0));
    sqlite3_bind_int64(insert, 4, r.find<int64_t>("repo.id").value_or(0));
    sqlite3_bind_text(insert, 5, created.data(), static_cast<int>(created.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 6, lines[i].data(), static_cast<int>(lines[i].size()), SQLITE_STATIC);
    sqlite3_step(insert);
    sqlite3_reset(insert);
  }
  run("COMMIT");
  double seconds = since(start);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::stoul(argv[1]) : 200000;
  std::size_t naiveCount = std::min<std::size_t>(count, argc > 2 ? std::stoul(argv[2]) : 20000);
  std::size_t large = argc > 3 ? std::stoul(argv[3]) : 1000000;
  bench::Server server = bench::serverFromEnv("bench/run-ingest.sh");
  const std::string& conninfo = server.conninfo;
  const std::string& uri = server.uri;
  etltest::TempDir dir;
  std::string input = dir / "events.jsonl";
  double bytes = static_cast<double>(etltest::writeEvents(
      etltest::templateEvents(etltest::dataDir()), count, 3000000000ULL, input));
  double mb = bytes / 1e6;
  std::printf(
      "%zu GH-Archive-format events (real recorded events, unique ids), %.0f MB, %.0f "
      "bytes/event\n",
      count, mb, bytes / count);
  PGconn* conn = bench::connect(conninfo);
  std::printf("server: %s, fsync=%s, synchronous_commit=%s\n\n",
              bench::one(conn, "SHOW server_version").c_str(),
              bench::one(conn, "SHOW fsync").c_str(),
              bench::one(conn, "SHOW synchronous_commit").c_str());

  double a = copyRaw(conn, input, "bench_raw");
  exec(conn, "DROP TABLE bench_raw");

  // The shipped backfill pipeline's sink and batch settings, into the benchmark's server.
  auto pipelineFile = [&](const std::string& name, const std::string& uri, const std::string& path,
                          const std::string& writers) {
    std::string sink = etltest::shippedSink("gharchive.yaml", "backfill");
    if (!writers.empty()) {
      sink.insert(sink.find("      plugin: sql\n") + 18, "      writers: " + writers + "\n");
    }
    std::string yaml = dir / name;
    std::ofstream(yaml) << etltest::githubConnection(uri)
                        << "pipelines:\n  bench:\n    source: {plugin: file, path: \"" << path
                        << "\", stream: github_events}\n    transforms: [{plugin: "
                           "push_event_parser}]\n"
                        << sink << etltest::shippedBlock("gharchive.yaml", "backfill", "batch");
    return yaml;
  };
  auto fresh = [&] {
    exec(conn,
         "DROP TABLE IF EXISTS github_events, push_events, actors, repositories, etl_checkpoints, "
         "etl_dead_letters, etl_schema_migrations CASCADE");
  };
  auto runEtlrun = [&](const std::string& yaml, const std::string& state) {
    bench::Run run = bench::etlrun(yaml, dir / state, dir / (state + ".log"));
    if (run.exitCode != 0) {
      std::fprintf(stderr, "etlrun failed (exit %d); its log: %s\n", run.exitCode,
                   (dir / (state + ".log")).c_str());
      std::system(("tail -20 " + (dir / (state + ".log"))).c_str());
      std::exit(1);
    }
    return run;
  };
  fresh();
  bench::Run c = runEtlrun(pipelineFile("bench.yaml", uri, input, ""), "state");
  std::size_t writers = 0;
  {
    std::ifstream log(dir / "state.log");
    std::string line;
    while (std::getline(log, line)) {
      auto at = line.find(" writer(s)");
      if (at == std::string::npos) continue;
      writers = std::stoul(line.substr(line.rfind('(', at) + 1));
    }
  }
  std::string stored = bench::one(conn, "SELECT count(*) FROM github_events");
  std::string pushes = bench::one(conn, "SELECT count(*) FROM push_events");
  fresh();
  bench::Run c1 = runEtlrun(pipelineFile("bench-1.yaml", uri, input, "1"), "state-1");

  // The embedded SQLite store: etlrun (the shipped sink) beside plain prepared INSERTs.
  bench::Run d =
      runEtlrun(pipelineFile("bench-sqlite.yaml", "sqlite:" + (dir / "etlrun.sqlite"), input, ""),
                "state-sqlite");
  auto lines = etltest::readLines(input);
  double s = sqlitePlain(lines, dir / "plain.sqlite", 1000);
  double b = naive(conn, lines, naiveCount);
  exec(conn, "DROP TABLE bench_naive");
  double a2 = copyRaw(conn, input, "bench_raw");
  exec(conn, "DROP TABLE bench_raw");
  // etlrun stores with lz4 TOAST compression; this is the same limit with lz4, for an honest view.
  double aLz4 = copyRaw(conn, input, "bench_raw", "lz4");
  exec(conn, "DROP TABLE bench_raw");
  PQfinish(conn);

  auto row = [&](const char* name, std::size_t n, double seconds) {
    double rate = n / seconds;
    std::printf("%-58s %10.0f %8.1f\n", name, rate, rate * (bytes / count) / 1e6);
    return rate;
  };
  std::printf("%-58s %10s %8s\n", "", "events/s", "MB/s");
  double ra = row("(a)  COPY into one jsonb column (the limit)", count, a);
  double rb = row(("(b)  naive SELECT + INSERT per event, autocommit (" +
                   std::to_string(naiveCount) + " events)")
                      .c_str(),
                  naiveCount, b);
  std::string label =
      "(c)  etlrun file -> push_event_parser -> sql, " + std::to_string(writers) + " writers";
  double rc = row(label.c_str(), count, c.seconds);
  double rc1 = row("(c1) etlrun, the same with writers: 1", count, c1.seconds);
  double ra2 = row("(a') COPY again, after the others (drift check)", count, a2);
  double rLz4 = row("(a-lz4) COPY into one jsonb column, lz4 compression", count, aLz4);
  double limit = (ra + ra2) / 2;
  std::printf(
      "\nc/a-lz4 = %.2f   c1/a-lz4 = %.2f   c/a = %.2f (a = mean of a and a': %.0f events/s)   "
      "c/b = %.1fx\n",
      rc / rLz4, rc1 / rLz4, rc / limit, limit, rc / rb);
  std::printf(
      "etlrun peak RSS: %.1f MiB (%.1f MiB with writers: 1); stored %s events and %s push "
      "events\n\n",
      c.peakRssKb / 1024.0, c1.peakRssKb / 1024.0, stored.c_str(), pushes.c_str());
  double rs = row("(s)  SQLite: prepared INSERTs of the events, 1000 a txn", count, s);
  double rd = row("(d)  etlrun file -> push_event_parser -> sql (SQLite)", count, d.seconds);
  std::printf(
      "\nd/s = %.2f (etlrun also stores the push rows, dead letters, checkpoints)   "
      "etlrun peak RSS: %.1f MiB\n",
      rd / rs, d.peakRssKb / 1024.0);

  if (large > 0) {
    // Memory must not grow with the input: the same pipeline at `large` events.
    std::string big = dir / "large.jsonl";
    etltest::writeEvents(etltest::templateEvents(etltest::dataDir()), large, 9000000000ULL, big);
    PGconn* again = bench::connect(conninfo);
    conn = again;
    fresh();
    bench::Run l = runEtlrun(pipelineFile("bench-large.yaml", uri, big, ""), "state-large");
    PQfinish(again);
    std::remove(big.c_str());
    std::printf("\n");
    row(("(c)  etlrun at " + std::to_string(large) + " events").c_str(), large, l.seconds);
    std::printf("etlrun peak RSS: %.1f MiB at %zu events, %.1f MiB at %zu events\n",
                c.peakRssKb / 1024.0, count, l.peakRssKb / 1024.0, large);
  }
  return 0;
}
