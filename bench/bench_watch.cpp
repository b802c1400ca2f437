// github_watch's adaptive schedule beside a fixed round robin, on the same simulated world (the
// fake GitHub's: skewed rates, bursts, 300-event feeds, one token at 5,000 requests an hour,
// virtual time), through the real plugin and runner: events captured per request, the share of
// requests answered 304 (free), and events missed.
//   bench_watch [repositories=2000] [hours=6]
#include <cstdio>
#include <string>

#include "test_env.h"
#include "watch_run.h"

namespace {

struct Figures {
  std::size_t requests = 0, notModified = 0, captured = 0, published = 0, missed = 0;
  std::size_t missedByFirehose = 0, incompleteRepos = 0;
};

Figures measure(const std::string& schedule, std::size_t repos, double hours) {
  etltest::TempDir dir;
  etltest::SimulatedClock clock{etltest::simulationStart()};
  fakegh::FakeGitHub fake{clock};
  fake.start();
  fake.setRateLimit(60, 5000);
  etl::Metrics metrics;
  auto world = etltest::watchWorld(repos, hours);
  fake.simulateWorld(world.repos, std::chrono::hours(48));
  auto length =
      std::chrono::duration_cast<etl::Millis>(std::chrono::duration<double>(hours * 3600));
  auto out = etltest::runWatch(fake, clock, metrics, world, length, dir.path(),
                               "      schedule: " + schedule + "\n");
  if (!out.failure.empty()) {
    std::fprintf(stderr, "%s: the pipeline failed: %s\n", schedule.c_str(), out.failure.c_str());
    std::exit(1);
  }
  Figures f;
  for (const auto& r : fake.requests()) {
    ++f.requests;
    if (r.status == 304) ++f.notModified;
  }
  for (const auto& truth : fake.worldTruth()) {
    const auto& got = out.captured[truth.name];
    f.captured += got.size();
    std::size_t missing = 0;
    // What was published while the watcher looked at the feed (before its first poll the feed's
    // history is there to read; after its last, the next poll would have read it).
    for (std::size_t i = 0; i < truth.ids.size(); ++i) {
      if (truth.firstRequest == etl::TimePoint{} || truth.at[i] < truth.firstRequest ||
          truth.at[i] > truth.lastRequest)
        continue;
      ++f.published;
      if (!got.count(truth.ids[i])) ++missing;
    }
    if (truth.firstRequest == etl::TimePoint{}) ++f.incompleteRepos;  // never polled
    if (truth.name == world.firehose) {
      f.missedByFirehose = missing;
    } else if (missing) {
      f.missed += missing;
      ++f.incompleteRepos;
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t repos = argc > 1 ? std::stoul(argv[1]) : 2000;
  double hours = argc > 2 ? std::stod(argv[2]) : 6;
  std::printf(
      "%zu repositories (skewed rates, bursts, one firehose), %.0f simulated hours, one "
      "token (5,000 requests/hour, 80%% for the watcher)\n\n",
      repos, hours);
  std::printf("%-12s %9s %7s %8s %9s %10s %14s %11s %9s\n", "schedule", "requests", "304s",
              "charged", "events", "events/req", "missed (other)", "incomplete", "firehose");
  Figures a{}, r{};
  for (const std::string schedule : {"adaptive", "round_robin"}) {
    Figures f = measure(schedule, repos, hours);
    (schedule == "adaptive" ? a : r) = f;
    std::printf("%-12s %9zu %6.1f%% %8zu %9zu %10.2f %14zu %11zu %9zu\n", schedule.c_str(),
                f.requests, 100.0 * f.notModified / std::max<std::size_t>(1, f.requests),
                f.requests - f.notModified, f.captured,
                static_cast<double>(f.captured) / std::max<std::size_t>(1, f.requests), f.missed,
                f.incompleteRepos, f.missedByFirehose);
  }
  std::printf(
      "\nevents per request: adaptive/round robin = %.2fx; events missed outside the "
      "firehose: %zu vs %zu\n",
      (static_cast<double>(a.captured) / a.requests) /
          (static_cast<double>(r.captured) / r.requests),
      a.missed, r.missed);
  return 0;
}
