// The file source's cost per batch after many finished files (a long backfill: 87,600 hour files
// in ten years of GH Archive). In one run, on the same machine, the cost of a million lines (from
// the difference between a file of `lines` and one of twice as many) for a pipeline that has
// finished no file yet, and for one whose checkpoint holds `finished` files; and what a start
// costs in each. The checkpoint used to list every finished file and was rebuilt with every
// batch: at 100,000 finished files a 300,000-line file took 101 s instead of 0.6 s.
//   bench_finished_files [finished=100000] [lines=300000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_env.h"

namespace {

using Clock = std::chrono::steady_clock;

// Runs the pipeline (reading `glob`) once into `out`, state in `dir`/state; seconds it took.
double run(const etltest::TempDir& dir, const std::string& glob, const std::string& out) {
  std::string yaml = dir / "p.yaml";
  etltest::writeFile(yaml, "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" + glob +
                               "\"}\n    sink: {plugin: jsonl, path: \"" + out +
                               "\", fsync: false}\n    batch: {max_records: 500}\n");
  auto start = Clock::now();
  auto result =
      etltest::runEtlrun({"--once", "--log-level=warning", "--state-dir=" + (dir / "state"), yaml});
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  if (result.exitCode != 0) {
    std::fprintf(stderr, "etlrun failed (%d): %s\n", result.exitCode, result.err.c_str());
    std::exit(1);
  }
  return took;
}

void writeLines(const std::string& path, long lines, long first) {
  std::ofstream out(path);
  for (long i = 0; i < lines; ++i) {
    out << "{\"id\":" << first + i << ",\"type\":\"PushEvent\",\"payload\":{\"size\":1}}\n";
  }
}

// A file of `lines` lines, then one of twice as many, each in its own run: the difference is the
// cost of `lines` lines (per batch), apart from what a start costs (matching, verifying).
struct Cost {
  double perMillion, start;
};
Cost measure(const etltest::TempDir& dir, long lines, long firstId) {
  writeLines(dir / "one.json", lines, firstId);
  writeLines(dir / "two.json", 2 * lines, firstId + lines);
  double one = run(dir, dir / "one.json", dir / "out.jsonl");
  double two = run(dir, dir / "two.json", dir / "out.jsonl");
  double perLine = (two - one) / static_cast<double>(lines);
  return {perLine * 1e6, one - perLine * static_cast<double>(lines)};
}

}  // namespace

int main(int argc, char** argv) {
  long finished = argc > 1 ? std::atol(argv[1]) : 100000;
  long lines = argc > 2 ? std::atol(argv[2]) : 300000;

  etltest::TempDir fresh, many;
  Cost baseline = measure(fresh, lines, 0);

  std::filesystem::create_directories(many / "hours");
  for (long i = 0; i < finished; ++i) {
    writeLines(many / ("hours/h-" + std::to_string(i) + ".json"), 1, 1000000000 + i);
  }
  auto start = Clock::now();
  run(many, many / "hours/h-*.json", many / "out.jsonl");
  double backfill = std::chrono::duration<double>(Clock::now() - start).count();
  auto checkpointBytes = std::filesystem::file_size(many / "out.jsonl.checkpoint");
  // The same pipeline, its checkpoint holding the finished files, reads the big files now.
  Cost after = measure(many, lines, 0);

  std::printf("file source: lines read after N finished files (batches of 500)\n");
  std::printf("  reading %ld one-line files: %.2f s (%.0f files/s); checkpoint then %.1f KiB\n",
              finished, backfill, finished / backfill, checkpointBytes / 1024.0);
  std::printf("  per million lines, N = 0:      %6.2f s\n", baseline.perMillion);
  std::printf("  per million lines, N = %-7ld %6.2f s\n", finished, after.perMillion);
  std::printf("  ratio (per batch, N / 0):      %6.2f\n", after.perMillion / baseline.perMillion);
  std::printf("  a start, N = 0:                %6.2f s\n", baseline.start);
  std::printf("  a start, N = %-7ld          %6.2f s (matching and checking the files read)\n",
              finished, after.start);
  return 0;
}
