#include "watch_run.h"

#include <Poco/JSON/Parser.h>

#include <atomic>
#include <thread>

#include "etl/record.h"
#include "event_generator.h"
#include "health.h"
#include "pipeline_runner.h"
#include "quota_http_client.h"
#include "test_env.h"

namespace etltest {

WatchOutcome runWatch(fakegh::FakeGitHub& fake, SimulatedClock& clock, etl::Metrics& metrics,
                      const WatchWorld& world, etl::Millis length, const std::string& dir,
                      const std::string& extra, std::string watchWith, const std::string& token) {
  std::string list;
  for (const auto& r : world.repos) list += r.name + "\n";
  writeFile(dir + "/watch.txt", "# the repositories we care about\n" + list);
  if (watchWith.empty()) watchWith = "      watch_file: \"" + dir + "/watch.txt\"\n";
  writeFile(dir + "/p.yaml",
            "pipelines:\n  watch:\n    source:\n      plugin: github_watch\n"
            "      base_url: " +
                fake.baseUrl() + "\n      token: \"" + token + "\"\n" + watchWith +
                "      timeout: 2s\n" + extra + "    sink: {plugin: jsonl, path: \"" + dir +
                "/events.jsonl\", fsync: false}\n"
                "    batch: {max_records: 2000, max_latency: 30s}\n");
  etl::PluginLoader loader({pluginDir()});
  auto spec = etl::loadPipelineFile(dir + "/p.yaml", loader).pipelines.at(0);
  etl::StopSignal stop;
  clock.runFor(length, stop);
  etl::QuotaHttpClient http(clock, etl::HttpClientOptions{});
  WatchOutcome out;
  {
    etl::PipelineRunner runner(spec, etl::Services{clock, stop, metrics, http, dir, false});
    std::atomic<bool> done{false};
    std::thread monitor([&] {
      while (!done) {
        for (const auto& w : runner.warnings()) out.degradedSeen.insert(w);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
    runner.start();
    runner.join();
    done = true;
    monitor.join();
    out.failure = runner.failure();
    out.health = etl::healthReport({&runner}, clock.now()).second;
  }
  std::set<std::string> all;
  for (const auto& line : readLines(dir + "/events.jsonl")) {
    etl::Record r("e", line);
    auto id = r.get<std::string>("id");
    if (!all.insert(id).second) ++out.duplicates;
    out.captured[r.get<std::string>("repo.name")].insert(id);
  }
  out.report = Poco::JSON::Parser()
                   .parse(readFile(dir + "/watch.feeds.json"))
                   .extract<Poco::JSON::Array::Ptr>();
  return out;
}

}  // namespace etltest
