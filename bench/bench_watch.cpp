// github_watch's adaptive schedule beside a fixed round robin, on the same simulated world (the
// fake GitHub's: skewed rates, bursts, 300-event feeds, one token at 5,000 requests an hour,
// virtual time), through the real plugin and runner: events captured per request, the share of
// requests answered 304 (free), and events missed; and what the watcher costs: its peak memory
// (above what the simulated world holds), its checkpoint's size and the checkpoint bytes it hands
// the sink per hour, the busiest hour's charged requests against its share, and how long the
// first round (every feed polled once) took.
//   bench_watch [repositories=2000] [hours=6] [schedules=adaptive,round_robin]
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "heap_by_thread.h"
#include "test_env.h"
#include "watch_run.h"

namespace {

struct Figures {
  std::size_t requests = 0, notModified = 0, captured = 0, published = 0, missed = 0;
  std::size_t missedByFirehose = 0, incompleteRepos = 0;
  double peakMiB = 0, heapMiB = 0, checkpointKiB = 0, checkpointMiBPerHour = 0,
         firstRoundMinutes = 0;
  int busiestHour = 0;
  std::vector<double> liveByBlock;  // the watcher's highest live heap in each sixth of the run
};

// kB of a /proc/self/status line ("VmHWM:", "VmRSS:").
double statusKiB(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(field.size()));
  }
  return 0;
}

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
  // The process's peak from here on, above what the world and the fake hold already; and the
  // peak heap of the watcher's own threads (the fake's are not measured).
  fake.onRequest([](const std::string&) { heap::excludeThisThread(); });
  std::ofstream("/proc/self/clear_refs") << "5";
  double before = statusKiB("VmRSS:");
  std::size_t heapBefore = heap::live();
  heap::resetPeak();
  // The watcher's live heap through the day, sampled (in real time) by simulated hour: a peak
  // that only grows would be a leak; one that comes and goes, batches at a busy moment.
  std::map<int64_t, double> liveByHour;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    heap::excludeThisThread();
    auto start = clock.now();
    while (!done) {
      auto hour = std::chrono::duration_cast<std::chrono::hours>(clock.now() - start).count();
      double live = static_cast<double>(heap::live() - heapBefore) / 1048576;
      liveByHour[hour] = std::max(liveByHour[hour], live);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto out = etltest::runWatch(fake, clock, metrics, world, length, dir.path(),
                               "      schedule: " + schedule + "\n");
  done = true;
  sampler.join();
  double peak = statusKiB("VmHWM:");
  double heapPeak = static_cast<double>(heap::peak() - heapBefore) / 1048576;
  if (!out.failure.empty()) {
    std::fprintf(stderr, "%s: the pipeline failed: %s\n", schedule.c_str(), out.failure.c_str());
    std::exit(1);
  }
  Figures f;
  for (const auto& [hour, live] : liveByHour) {
    std::size_t block =
        static_cast<std::size_t>(hour / std::max<int64_t>(1, static_cast<int64_t>(hours / 6)));
    if (f.liveByBlock.size() <= block) f.liveByBlock.resize(block + 1);
    f.liveByBlock[block] = std::max(f.liveByBlock[block], live);
  }
  f.peakMiB = (peak - before) / 1024;
  f.heapMiB = heapPeak;
  std::string state = etltest::readFile(dir.path() + "/events.jsonl.checkpoint");
  f.checkpointKiB = static_cast<double>(state.size()) / 1024;
  f.checkpointMiBPerHour =
      static_cast<double>(metrics.counter("watch.checkpoint_bytes").load()) / 1048576 / hours;
  std::map<int64_t, int> charged;
  auto requests = fake.requests();
  for (const auto& r : requests) {
    ++f.requests;
    if (r.status == 304) {
      ++f.notModified;
    } else {
      ++charged[std::chrono::duration_cast<std::chrono::hours>(r.at - requests.front().at).count()];
    }
  }
  for (const auto& [hour, n] : charged) f.busiestHour = std::max(f.busiestHour, n);
  etl::TimePoint lastFirst{};
  for (const auto& truth : fake.worldTruth()) lastFirst = std::max(lastFirst, truth.firstRequest);
  if (!requests.empty()) {
    f.firstRoundMinutes =
        std::chrono::duration<double>(lastFirst - requests.front().at).count() / 60;
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
      if (f.incompleteRepos <= 5) {
        std::fprintf(
            stderr, "incomplete: %s lost %zu of its %zu events (first poll at +%.0f min)\n",
            truth.name.c_str(), missing, truth.ids.size(),
            std::chrono::duration<double>(truth.firstRequest - etltest::simulationStart()).count() /
                60);
      }
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  heap::excludeThisThread();  // the world is built and checked here
  std::size_t repos = argc > 1 ? std::stoul(argv[1]) : 2000;
  double hours = argc > 2 ? std::stod(argv[2]) : 6;
  std::string which = argc > 3 ? argv[3] : "adaptive,round_robin";
  std::printf(
      "%zu repositories (skewed rates, bursts, one firehose), %.0f simulated hours, one "
      "token (5,000 requests/hour, 80%% = 4,000 for the watcher)\n\n",
      repos, hours);
  std::printf("%-12s %9s %7s %8s %9s %10s %14s %11s %9s %8s %8s %11s %10s %10s %11s\n", "schedule",
              "requests", "304s", "charged", "events", "events/req", "missed (other)", "incomplete",
              "firehose", "RSS MiB", "heap MiB", "checkpoint", "MiB/hour", "max/hour",
              "first round");
  std::map<std::string, Figures> all;
  std::stringstream list(which);
  std::string schedule;
  while (std::getline(list, schedule, ',')) {
    Figures f = measure(schedule, repos, hours);
    all[schedule] = f;
    std::printf(
        "%-12s %9zu %6.1f%% %8zu %9zu %10.2f %14zu %11zu %9zu %8.1f %8.1f %7.0f KiB %10.1f "
        "%10d %7.1f min\n",
        schedule.c_str(), f.requests, 100.0 * f.notModified / std::max<std::size_t>(1, f.requests),
        f.requests - f.notModified, f.captured,
        static_cast<double>(f.captured) / std::max<std::size_t>(1, f.requests), f.missed,
        f.incompleteRepos, f.missedByFirehose, f.peakMiB, f.heapMiB, f.checkpointKiB,
        f.checkpointMiBPerHour, f.busiestHour, f.firstRoundMinutes);
    std::printf("%-12s highest live heap (MiB) in each sixth of the run:", "");
    for (double live : f.liveByBlock) std::printf(" %.1f", live);
    std::printf("\n");
  }
  if (all.count("adaptive") && all.count("round_robin")) {
    const Figures& a = all["adaptive"];
    const Figures& r = all["round_robin"];
    std::printf(
        "\nevents per request: adaptive/round robin = %.2fx; events missed outside the "
        "firehose: %zu vs %zu\n",
        (static_cast<double>(a.captured) / a.requests) /
            (static_cast<double>(r.captured) / r.requests),
        a.missed, r.missed);
  }
  return 0;
}
