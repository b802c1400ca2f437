// Kafka -> PostgreSQL beside file -> PostgreSQL, in one run on one server: the same events, the
// same sink block (pipelines/kafka-postgres.yaml's), read from a file by one etlrun, and from a
// topic of librdkafka's mock cluster (in this process) by one and by two etlrun processes in a
// consumer group. Prints events/s; run it with bench/run-kafka.sh.
//   bench_kafka [events=100000] [partitions=32]
// The mock keeps at most 5 MB (compressed) per partition and drops what is older: the partitions
// must hold the whole input (about 2,500 events each with lz4), which the run checks.
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "etl/clock.h"
#include "event_generator.h"
#include "kafka_mock.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;

// Runs the etlrun processes of one pipeline file to the end (--once), all at once.
struct Timing {
  double seconds = 0;  // from start to the last exit
  double steady = 0;   // from the last "partitions assigned" (or start) to the last exit
};
Timing runAll(const std::string& yaml, int processes, const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto start = Clock::now();
  auto wallStart = std::chrono::system_clock::now();
  std::vector<std::string> logs;
  std::vector<int> pids;
  for (int i = 0; i < processes; ++i) {
    logs.push_back(dir + "/p" + std::to_string(i) + ".log");
    pids.push_back(
        etltest::startEtlrun({"--once", "--state-dir=" + dir + "/state" + std::to_string(i), yaml},
                             dir + "/out", logs.back()));
  }
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int code = etltest::waitFor(pids[i], 3600);
    if (code != 0) {
      std::fprintf(stderr, "etlrun exited %d; its log:\n", code);
      std::system(("tail -20 " + logs[i]).c_str());
      std::exit(1);
    }
  }
  Timing t;
  t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  auto end = std::chrono::system_clock::now();
  auto lastAssigned = wallStart;
  for (const auto& log : logs) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("partitions assigned: ") == std::string::npos) continue;
      if (auto at = etl::parseIsoTime(line.substr(0, line.find(' ')))) {
        lastAssigned = std::max(
            lastAssigned, std::chrono::time_point_cast<std::chrono::system_clock::duration>(*at));
      }
    }
  }
  t.steady = std::chrono::duration<double>(end - lastAssigned).count();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::stoul(argv[1]) : 100000;
  int partitions = argc > 2 ? std::stoi(argv[2]) : 32;
  bench::Server server = bench::serverFromEnv("bench/run-kafka.sh");
  const std::string& uri = server.uri;
  etltest::TempDir dir;
  std::string input = dir / "events.jsonl";
  double bytes = static_cast<double>(etltest::writeEvents(
      etltest::templateEvents(etltest::dataDir()), count, 5000000000ULL, input));
  etltest::KafkaMock kafka(3);
  kafka.createTopic("github-events", partitions);
  PGconn* conn = bench::connect(server.conninfo);
  std::printf(
      "%zu events, %.0f MB; PostgreSQL %s (fsync=%s); topic of %d partitions on "
      "librdkafka's mock cluster (3 brokers, this process)\n\n",
      count, bytes / 1e6, bench::one(conn, "SHOW server_version").c_str(),
      bench::one(conn, "SHOW fsync").c_str(), partitions);

  std::string sink = etltest::shippedSink("kafka-postgres.yaml", "load");
  std::string batch = etltest::shippedBlock("kafka-postgres.yaml", "load", "batch");
  std::string transforms = "    transforms: [{plugin: push_event_parser}]\n";
  auto file = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir / name) << body;
    return dir / name;
  };
  auto fresh = [&] {
    PQclear(PQexec(conn,
                   "DROP TABLE IF EXISTS github_events, push_events, actors, repositories, "
                   "etl_checkpoints, etl_checkpoint_parts, etl_dead_letters, "
                   "etl_schema_migrations CASCADE"));
  };
  auto stored = [&] { return bench::one(conn, "SELECT count(*) FROM github_events"); };

  // (p) filling the topic: file -> kafka, keyed by event id.
  std::string produce =
      file("produce.yaml", "pipelines:\n  produce:\n    source: {plugin: file, path: \"" + input +
                               "\", stream: github_events}\n    sink: {plugin: kafka, brokers: \"" +
                               kafka.bootstraps() + "\", topic: github-events, key: id}\n" + batch);
  Timing p = runAll(produce, 1, dir / "produce");

  // (f) file -> PostgreSQL: the baseline.
  fresh();
  std::string direct =
      file("direct.yaml", etltest::githubConnection(uri) +
                              "pipelines:\n  load:\n    source: {plugin: file, "
                              "path: \"" +
                              input + "\", stream: github_events}\n" + transforms + sink + batch);
  Timing f = runAll(direct, 1, dir / "direct");
  std::string fStored = stored();

  // (k1), (k2): kafka_consumer -> the same, by 1 and by 2 processes in a group.
  auto consume = [&](const std::string& group) {
    return file(group + ".yaml",
                etltest::githubConnection(uri) +
                    "pipelines:\n  load:\n    source:\n      plugin: kafka_consumer\n"
                    "      brokers: \"" +
                    kafka.bootstraps() +
                    "\"\n      topics: [github-events]\n      group: " + group +
                    "\n      stream: github_events\n"
                    "      properties: {session.timeout.ms: 6000}\n" +
                    transforms + sink + batch);
  };
  fresh();
  Timing k1 = runAll(consume("one"), 1, dir / "k1");
  std::string k1Stored = stored();
  fresh();
  Timing k2 = runAll(consume("two"), 2, dir / "k2");
  std::string k2Stored = stored();
  PQfinish(conn);
  for (const std::string* n : {&fStored, &k1Stored, &k2Stored}) {
    if (*n != std::to_string(count)) {
      std::fprintf(stderr,
                   "stored %s of %zu events: more partitions are needed (the mock keeps "
                   "5 MB a partition)\n",
                   n->c_str(), count);
      return 1;
    }
  }

  auto row = [&](const char* name, const Timing& t) {
    std::printf("%-56s %9.0f %9.0f %7.1f\n", name, count / t.seconds, count / t.steady,
                count / t.seconds * (bytes / count) / 1e6);
    return count / t.steady;
  };
  std::printf("%-56s %9s %9s %7s\n", "", "events/s", "assigned", "MB/s");
  row("(p)  file -> kafka (at least once, idempotent producer)", p);
  double rf = row("(f)  file -> push_event_parser -> sql: the baseline", f);
  double r1 = row("(k1) kafka_consumer -> push_event_parser -> sql, 1 worker", k1);
  double r2 = row("(k2) the same, 2 workers in one group", k2);
  std::printf(
      "\n'assigned': from the last partition assignment (the group's join, about 3 s on the "
      "mock, left out) to the end.\nk1/f = %.2f   k2/f = %.2f   k2/k1 = %.2f   stored: f %s, "
      "k1 %s, k2 %s\n",
      r1 / rf, r2 / rf, r2 / r1, fStored.c_str(), k1Stored.c_str(), k2Stored.c_str());
  return 0;
}
