// The hot path of every pipeline: reading a few fields of each event. Measures, in one run over
// the same in-memory GH-Archive-format events (real recorded events with unique ids):
//   baseline  Poco::JSON::Parser: parse, then read type, id, actor.id, repo.id, created_at
//   filter    etl::Record: parse + `type` compared to PushEvent (what event_filter does)
//   fields    etl::Record: the same five fields as the baseline, plus payload.push_id
// and prints events/s, MB/s and the ratios to the baseline. One core (single thread).
//   bench_json [events=200000]
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "etl/record.h"
#include "event_generator.h"
#include "test_env.h"

namespace {

struct Figure {
  const char* name;
  double seconds;
  int64_t checksum;  // keeps the work observable
};

template <class F>
Figure measure(const char* name, F work) {
  auto start = std::chrono::steady_clock::now();
  int64_t checksum = work();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {name, seconds, checksum};
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = argc > 1 ? std::stoul(argv[1]) : 200000;
  auto templates = etltest::templateEvents(etltest::dataDir());
  std::vector<etl::Record> records;
  records.reserve(count);
  double bytes = 0;
  for (std::size_t i = 0; i < count; ++i) {
    records.emplace_back("github_events",
                         etltest::withUniqueIds(templates[i % templates.size()], 1000000 + i));
    bytes += static_cast<double>(records.back().raw().size());
  }
  std::printf("%zu events, %.1f MB, %.0f bytes/event on average\n", count, bytes / 1e6,
              bytes / count);

  Figure baseline = measure("Poco::JSON parse + 5 fields", [&] {
    int64_t sum = 0;
    Poco::JSON::Parser parser;
    for (const auto& r : records) {
      parser.reset();
      auto event = parser.parse(r.raw()).extract<Poco::JSON::Object::Ptr>();
      sum += static_cast<int64_t>(event->getValue<std::string>("type").size());
      sum += static_cast<int64_t>(event->getValue<std::string>("id").size());
      sum += event->getObject("actor")->getValue<int64_t>("id");
      sum += event->getObject("repo")->getValue<int64_t>("id");
      sum += static_cast<int64_t>(event->getValue<std::string>("created_at").size());
    }
    return sum;
  });
  Figure filter = measure("Record: parse + filter on type", [&] {
    int64_t kept = 0;
    for (const auto& r : records) kept += r.find<std::string>("type") == std::string("PushEvent");
    return kept;
  });
  Figure fields = measure("Record: parse + 5 fields + push_id", [&] {
    int64_t sum = 0;
    for (const auto& r : records) {
      sum += static_cast<int64_t>(r.get<std::string>("type").size());
      sum += static_cast<int64_t>(r.get<std::string>("id").size());
      sum += r.get<int64_t>("actor.id") + r.get<int64_t>("repo.id");
      sum += static_cast<int64_t>(r.get<std::string>("created_at").size());
      if (auto push = r.find<int64_t>("payload.push_id")) sum += *push;
    }
    return sum;
  });
  Figure validate = measure("Record: full validation (jsonError)", [&] {
    int64_t bad = 0;
    for (const auto& r : records) bad += !r.jsonError().empty();
    return bad;
  });

  std::printf("\n%-38s %12s %10s %10s\n", "what (one core)", "events/s", "MB/s", "vs Poco");
  for (const Figure& f : {baseline, filter, fields, validate}) {
    std::printf("%-38s %12.0f %10.1f %9.1fx   (checksum %lld)\n", f.name, count / f.seconds,
                bytes / 1e6 / f.seconds, baseline.seconds / f.seconds,
                static_cast<long long>(f.checksum));
  }
  double filterRate = count / filter.seconds;
  std::printf("\nparse + filter: %.0f events/s (target >= 300000): %s\n", filterRate,
              filterRate >= 300000 ? "met" : "NOT met");
  return 0;
}
