// The jq transform's cost, on the same PostgreSQL server in one run: the GH Archive backfill
//   (p) file -> push_event_parser -> sql                      (the shipped backfill pipeline)
//   (j) the same with a jq stage that explodes each PushEvent's commits into a `commits` table
//       (one row per commit, created from the YAML); `match: {type: [PushEvent]}` hands the
//       program only PushEvents, the others pass on untouched
//   (ja) the same, every event through the program (`select(.type == "PushEvent")` inside it)
// Each is run `rounds` times, alternating, so drift on a noisy machine falls on both alike; the
// best and the median of each are printed, and j/p, ja/p (the issue asks for at least 0.5).
// The commits stored are checked against the events' own arrays.
//   bench_jq [events=200000] [rounds=3]
// Needs ETLTEST_PG / ETLTEST_PG_URI: bench/run-jq.sh does everything.
#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.h"
#include "event_generator.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

// The event passes on unchanged (the identity output keeps its bytes), and a PushEvent makes one
// `commits` record per element of payload.commits.
const char* kProgram =
    R"(., (select(.type == "PushEvent") | .id as $event | .repo.name as $repo | .created_at as $at
    | (.payload.commits // []) | to_entries[]
    | {_stream: "commits", event_id: $event, position: .key, sha: .value.sha, repo: $repo,
       author_email: .value.author.email, author_name: .value.author.name,
       title: ((.value.message // "") | split("\n")[0]), distinct: .value.distinct,
       pushed_at: $at}))";

const char* kCommitsTable = R"(        commits:
          key: [event_id, position]
          columns:
            event_id: {path: event_id, required: true}
            position: {path: position, type: integer}
            sha: {path: sha, required: true}
            repo: repo
            author_email: author_email
            author_name: author_name
            title: title
            distinct: {path: distinct, type: boolean}
            pushed_at: {path: pushed_at, type: timestamptz}
)";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::stoul(argv[1]) : 200000;
  int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
  bench::Server server = bench::serverFromEnv("bench/run-jq.sh");
  const std::string& uri = server.uri;
  etltest::TempDir dir;
  std::string input = dir / "events.jsonl";
  double bytes = static_cast<double>(etltest::writeEvents(
      etltest::templateEvents(etltest::dataDir()), count, 3000000000ULL, input));
  std::printf("%zu GH-Archive-format events (real recorded events, unique ids), %.0f MB\n", count,
              bytes / 1e6);
  PGconn* conn = bench::connect(server.conninfo);

  auto pipeline = [&](const std::string& name, bool jq, bool match) {
    std::string sink = etltest::shippedSink("gharchive.yaml", "backfill");
    if (jq) {
      sink.insert(sink.find("      plugin: sql\n") + 18, "      create: auto\n");
      sink += kCommitsTable;
    }
    std::string yaml = dir / name;
    std::ofstream out(yaml);
    out << etltest::githubConnection(uri)
        << "pipelines:\n  bench:\n    source: {plugin: file, path: \"" << input
        << "\", stream: github_events}\n    transforms:\n      - plugin: push_event_parser\n";
    if (jq) {
      out << "      - plugin: jq\n        streams: [github_events]\n"
          << (match ? "        match: {type: [PushEvent]}\n" : "") << "        program: |\n";
      std::istringstream program(kProgram);
      for (std::string line; std::getline(program, line);) out << "          " << line << "\n";
    }
    out << sink << etltest::shippedBlock("gharchive.yaml", "backfill", "batch");
    return yaml;
  };
  std::string plainYaml = pipeline("plain.yaml", false, false);
  std::string jqYaml = pipeline("jq.yaml", true, true),
              allYaml = pipeline("jq-all.yaml", true, false);
  auto fresh = [&] {
    bench::one(
        conn,
        "DROP TABLE IF EXISTS github_events, push_events, commits, actors, repositories, "
        "etl_checkpoints, etl_checkpoint_parts, etl_dead_letters, etl_schema_migrations CASCADE");
  };
  int run = 0;
  auto timed = [&](const std::string& yaml) {
    fresh();
    std::string state = dir / ("state-" + std::to_string(++run));
    bench::Run r = bench::etlrun(yaml, state, state + ".log");
    if (r.exitCode != 0) {
      std::fprintf(stderr, "etlrun failed (exit %d); the end of its log:\n", r.exitCode);
      std::system(("tail -20 " + state + ".log").c_str());
      std::exit(1);
    }
    return r;
  };
  // Each jq run must store every event and exactly the commits the events hold.
  auto check = [&] {
    std::string events = bench::one(conn, "SELECT count(*) FROM github_events");
    std::string commits = bench::one(conn, "SELECT count(*) FROM commits");
    std::string expected = bench::one(
        conn,
        "SELECT sum(jsonb_array_length(raw->'payload'->'commits')) FROM github_events WHERE "
        "type = 'PushEvent' AND jsonb_typeof(raw->'payload'->'commits') = 'array'");
    std::string dead = bench::one(conn, "SELECT count(*) FROM etl_dead_letters");
    if (commits != expected || events != std::to_string(count) || dead != "0") {
      std::fprintf(stderr, "wrong result: %s events, %s commits stored (%s expected), %s dead\n",
                   events.c_str(), commits.c_str(), expected.c_str(), dead.c_str());
      std::exit(1);
    }
    return commits;
  };
  struct Variant {
    const char* label;
    std::string yaml;
    bool jq;
    std::vector<double> rates;
    long peakRssKb = 0;
  };
  std::vector<Variant> variants = {
      {"(p)  file -> push_event_parser -> sql", plainYaml, false, {}},
      {"(j)  + jq: each push's commits into `commits` (match: PushEvent)", jqYaml, true, {}},
      {"(ja) + jq: the same, every event through the program", allYaml, true, {}}};
  std::string commits;
  for (int round = 0; round < rounds; ++round) {
    std::printf("round %d:", round + 1);
    for (auto& v : variants) {
      bench::Run r = timed(v.yaml);
      v.rates.push_back(count / r.seconds);
      v.peakRssKb = std::max(v.peakRssKb, r.peakRssKb);
      if (v.jq) commits = check();
      std::printf("  %.0f", v.rates.back());
      std::fflush(stdout);
    }
    std::printf(" events/s\n");
  }
  PQfinish(conn);
  std::printf("\n%-66s %8s %8s %9s\n", "events/s", "best", "median", "peak RSS");
  for (const auto& v : variants) {
    std::printf("%-66s %8.0f %8.0f %6.1f MiB\n", v.label,
                *std::max_element(v.rates.begin(), v.rates.end()), median(v.rates),
                v.peakRssKb / 1024.0);
  }
  auto ratio = [&](const Variant& v) { return median(v.rates) / median(variants[0].rates); };
  std::printf(
      "\nj/p = %.2f   ja/p = %.2f (medians)   each jq run stored all %zu events and the %s "
      "commits they hold, no dead letters (RSS: etlrun's own, not its jq worker processes)\n",
      ratio(variants[1]), ratio(variants[2]), count, commits.c_str());
  return 0;
}
