// The runner with instrumented in-process plugins: backpressure, retries with backoff on virtual
// time, dead letters, checkpoints and resumption, batching by latency.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "checkpoint_identity.h"
#include "commit_order.h"
#include "event_generator.h"
#include "pipeline_runner.h"
#include "quota_http_client.h"
#include "state_files.h"
#include "test_env.h"

namespace {

// Shared observations of the test plugins (one test at a time).
struct Observed {
  std::mutex mutex;
  int64_t produced = 0;
  int64_t written = 0;
  int64_t maxOutstanding = 0;
  int failuresLeft = 0;
  bool permanentFailure = false;
  std::string openedWith;
  std::vector<std::size_t> batchSizes;
  std::vector<std::string> keys;
  std::vector<std::string> commits;  // the source's positions in the order ParallelSink committed
  std::string lastStored;            // ParallelSink: the last checkpoint as stored (with identity)
  std::vector<std::string> told;     // HandingOverSource: committed() calls
  std::vector<std::string> synced;   // HandingOverSource: what synced() got
  std::set<const void*> writerInstances, writerThreads;
  std::string failAtCheckpoint;  // ParallelSink: a permanent failure writing this batch
  etl::ManualClock* clock = nullptr;
  etl::Millis pollAdvance{0};
  void reset() {
    produced = written = maxOutstanding = failuresLeft = 0;
    permanentFailure = false;
    openedWith.clear();
    batchSizes.clear();
    keys.clear();
    commits.clear();
    lastStored.clear();
    told.clear();
    synced.clear();
    writerInstances.clear();
    writerThreads.clear();
    failAtCheckpoint.clear();
    clock = nullptr;
    pollAdvance = etl::Millis(0);
  }
} observed;

// Emits `count` records of `size` bytes, numbered; checkpoint = how many were emitted.
class CountingSource : public etl::Source {
 public:
  CountingSource(const etl::Config& config, etl::Context&)
      : total_(config.getInt("count")), size_(static_cast<std::size_t>(config.getInt("size"))) {}
  void open(const std::string& checkpoint) override {
    observed.openedWith = checkpoint;
    next_ = checkpoint.empty() ? 0 : std::stoll(checkpoint);
  }
  Poll poll(std::vector<etl::Record>& out, std::size_t max) override {
    if (observed.clock) observed.clock->advance(observed.pollAdvance);
    std::size_t n = 0;
    for (; n < max && next_ < total_ && (observed.pollAdvance.count() == 0 || n < 1);
         ++n, ++next_) {
      std::string padding(size_, 'x');
      out.emplace_back("test", "{\"n\":" + std::to_string(next_) + ",\"pad\":\"" + padding + "\"}",
                       std::to_string(next_));
      std::lock_guard<std::mutex> lock(observed.mutex);
      ++observed.produced;
    }
    if (next_ >= total_) return {Status::Done, {}};
    return {Status::More, {}};
  }
  std::string checkpoint() const override { return std::to_string(next_); }

 private:
  int64_t total_;
  std::size_t size_;
  int64_t next_ = 0;
};

// Like CountingSource, but hands over (Status::Sync) after every `every` records, as a consumer
// group member does before its partitions move: each synced() must find all of it committed.
class HandingOverSource : public CountingSource {
 public:
  HandingOverSource(const etl::Config& config, etl::Context& context)
      : CountingSource(config, context), every_(config.getInt("every")) {}
  Poll poll(std::vector<etl::Record>& out, std::size_t max) override {
    int64_t before = std::stoll(checkpoint());
    int64_t untilHandOver = every_ - before % every_;
    Poll p = CountingSource::poll(out, std::min<std::size_t>(max, untilHandOver));
    if (p.status == Status::More && std::stoll(checkpoint()) % every_ == 0) {
      return {Status::Sync, {}};
    }
    return p;
  }
  void synced(const std::optional<std::string>& stored) override {
    std::lock_guard<std::mutex> lock(observed.mutex);
    observed.synced.push_back(stored.value_or("(the core's file)"));
    EXPECT_EQ(stored.value_or(""), checkpoint()) << "handed over before it was all committed";
    ASSERT_FALSE(observed.commits.empty());
    EXPECT_EQ(observed.commits.back(), checkpoint());
  }
  void committed(const std::string& checkpoint) override {
    std::lock_guard<std::mutex> lock(observed.mutex);
    observed.told.push_back(checkpoint);
  }

 private:
  int64_t every_;
};

// Rejects records whose number is divisible by 10.
class RejectTens : public etl::Transform {
 public:
  RejectTens(const etl::Config&, etl::Context&) {}
  void apply(etl::Batch& batch) override {
    std::vector<etl::Record> kept;
    for (auto& r : batch.records) {
      if (r.get<int64_t>("n") % 10 == 0) {
        batch.reject(std::move(r), "divisible by ten");
      } else {
        kept.push_back(std::move(r));
      }
    }
    batch.records = std::move(kept);
  }
};

// Slow (1 ms a batch), and fails on demand.
class ObservingSink : public etl::Sink {
 public:
  ObservingSink(const etl::Config& config, etl::Context& context)
      : slow_(config.getBool("slow")),
        paused_(context.metrics.counter(context.pipeline + ".source_paused")) {}
  void write(etl::Batch& batch) override {
    // "Slow": the first write is held until the source has had to wait on the full queue, so
    // backpressure is exercised by a condition, not by how fast this machine is.
    for (int i = 0; slow_ && paused_.load() == 0 && i < 10000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard<std::mutex> lock(observed.mutex);
    observed.maxOutstanding =
        std::max(observed.maxOutstanding, observed.produced - observed.written);
    if (observed.permanentFailure) throw std::runtime_error("disk on fire");
    if (observed.failuresLeft > 0) {
      --observed.failuresLeft;
      throw etl::RetryableError("database unreachable");
    }
    observed.written += static_cast<int64_t>(batch.records.size() + batch.deadLetters.size());
    observed.batchSizes.push_back(batch.records.size());
    for (const auto& r : batch.records) observed.keys.push_back(r.key());
  }

 private:
  bool slow_;
  std::atomic<int64_t>& paused_;
};

// Commits its own checkpoints and allows 4 writers: each write takes a random time (so batches
// finish out of order), waits for its turn and "commits"; the order of commits is observed.
class ParallelSink : public etl::Sink {
 public:
  ParallelSink(const etl::Config&, etl::Context&) {}
  bool commitsCheckpoints() const override { return true; }
  std::size_t maxWriters() const override { return 4; }
  void write(etl::Batch& batch) override {
    std::this_thread::sleep_for(std::chrono::microseconds(random_() % 3000));
    {
      std::lock_guard<std::mutex> lock(observed.mutex);
      observed.writerInstances.insert(this);
      static thread_local char threadTag;
      observed.writerThreads.insert(&threadTag);
      if (observed.failAtCheckpoint == position(batch)) throw std::runtime_error("disk on fire");
      if (observed.failuresLeft > 0 && random_() % 3 == 0) {
        --observed.failuresLeft;
        throw etl::RetryableError("database unreachable");
      }
    }
    EXPECT_TRUE(batch.turn->wait());
    std::lock_guard<std::mutex> lock(observed.mutex);
    observed.commits.push_back(position(batch));
    observed.lastStored = batch.checkpoint;
    for (const auto& r : batch.records) observed.keys.push_back(r.key());
  }
  std::string committedCheckpoint() override {
    std::lock_guard<std::mutex> lock(observed.mutex);
    return observed.lastStored;
  }

 private:
  static std::string position(const etl::Batch& batch) {
    return etl::splitCheckpoint(batch.checkpoint, false).position;
  }
  std::mt19937 random_{std::random_device{}()};
};

const etl::ConfigField kSourceSchema[] = {{"count", etl::Type::Int, etl::Required, nullptr, ""},
                                          {"size", etl::Type::Int, etl::Optional, "10", ""},
                                          {}};
const etl::ConfigField kHandOverSchema[] = {{"count", etl::Type::Int, etl::Required, nullptr, ""},
                                            {"size", etl::Type::Int, etl::Optional, "10", ""},
                                            {"every", etl::Type::Int, etl::Required, nullptr, ""},
                                            {}};
const etl::ConfigField kNoSchema[] = {{}};
const etl::ConfigField kSinkSchema[] = {{"slow", etl::Type::Bool, etl::Optional, "false", ""}, {}};

const etl::PluginDescriptor kSource{
    "counting",
    etl::Kind::Source,
    "1",
    "",
    kSourceSchema,
    [](const etl::Config& c, etl::Context& x) -> etl::Plugin* { return new CountingSource(c, x); },
    nullptr,
    nullptr};
const etl::PluginDescriptor kHandingOver{"handing_over",
                                         etl::Kind::Source,
                                         "1",
                                         "",
                                         kHandOverSchema,
                                         [](const etl::Config& c, etl::Context& x) -> etl::Plugin* {
                                           return new HandingOverSource(c, x);
                                         },
                                         nullptr,
                                         nullptr};
const etl::PluginDescriptor kTransform{
    "reject_tens",
    etl::Kind::Transform,
    "1",
    "",
    kNoSchema,
    [](const etl::Config& c, etl::Context& x) -> etl::Plugin* { return new RejectTens(c, x); },
    nullptr,
    nullptr};
const etl::PluginDescriptor kSink{
    "observing",
    etl::Kind::Sink,
    "1",
    "",
    kSinkSchema,
    [](const etl::Config& c, etl::Context& x) -> etl::Plugin* { return new ObservingSink(c, x); },
    nullptr,
    nullptr};

const etl::PluginDescriptor kParallelSink{
    "parallel",
    etl::Kind::Sink,
    "1",
    "",
    kNoSchema,
    [](const etl::Config& c, etl::Context& x) -> etl::Plugin* { return new ParallelSink(c, x); },
    nullptr,
    nullptr};

class RunnerTest : public testing::Test {
 protected:
  void SetUp() override {
    observed.reset();
    loader_.registerBuiltin(kSource);
    loader_.registerBuiltin(kHandingOver);
    loader_.registerBuiltin(kTransform);
    loader_.registerBuiltin(kSink);
    loader_.registerBuiltin(kParallelSink);
  }

  etl::PipelineSpec spec(const std::string& yamlBody) {
    etltest::writeFile(dir_ / "p.yaml", "pipelines:\n  t:\n" + yamlBody);
    return etl::loadPipelineFile(dir_ / "p.yaml", loader_).pipelines.at(0);
  }

  bool run(const etl::PipelineSpec& s, etl::Clock& clock) {
    etl::QuotaHttpClient http(clock);
    etl::PipelineRunner runner(s, etl::Services{clock, stop_, metrics_, http, dir_.path(), true});
    runner.start();
    runner.join();
    return !runner.failed();
  }

  etltest::TempDir dir_;
  etl::PluginLoader loader_{{}};
  etl::StopSignal stop_;
  etl::Metrics metrics_;
};

TEST_F(RunnerTest, ASlowSinkPausesTheSourceAndBoundsMemory) {
  auto s = spec(
      "    source: {plugin: counting, count: 20000, size: 4000}\n"
      "    sink: {plugin: observing, slow: true}\n"
      "    batch: {max_records: 100, queue: 2}\n");
  ASSERT_TRUE(run(s, etl::systemClock()));
  EXPECT_EQ(observed.written, 20000);
  EXPECT_GT(metrics_.counter("t.source_paused").load(), 0) << "the source was never paused";
  // At most: the queue's batches, the one being written, the one waiting for the writer (its
  // transforms done), the one being filled.
  EXPECT_LE(observed.maxOutstanding, (2 + 3) * 100);
}

TEST_F(RunnerTest, RetryableSinkErrorsAreRetriedWithBackoffOnVirtualTime) {
  auto s = spec(
      "    source: {plugin: counting, count: 1000}\n"
      "    sink: {plugin: observing}\n"
      "    batch: {max_records: 100}\n"
      "    retry: {initial_backoff: 10s, max_backoff: 1m}\n");
  observed.failuresLeft = 4;
  etl::ManualClock clock(etl::TimePoint(std::chrono::hours(24 * 365 * 50)));
  auto start = clock.now();
  ASSERT_TRUE(run(s, clock));
  EXPECT_EQ(observed.written, 1000);
  EXPECT_EQ(observed.keys.size(), 1000u) << "no batch written twice";
  EXPECT_EQ(metrics_.counter("t.retries").load(), 4);
  // Backoffs of 10, 20, 40, 60 s with half jitter: at least 5+10+20+30 s of virtual time passed.
  EXPECT_GE(clock.now() - start, std::chrono::seconds(65));
  auto stored = etl::splitCheckpoint(etl::CheckpointFile(dir_.path(), "t").load(), false);
  EXPECT_EQ(stored.position, "1000");
  EXPECT_EQ(stored.identity,
            "{\"sink\":{\"plugin\":\"observing\"},\"source\":{\"plugin\":\"counting\"}}")
      << "the checkpoint names what wrote it";
}

TEST_F(RunnerTest, RejectedRecordsGoToDeadLettersAndTheRestIsDelivered) {
  auto s = spec(
      "    source: {plugin: counting, count: 95}\n"
      "    transforms: [{plugin: reject_tens}]\n"
      "    sink: {plugin: observing}\n"
      "    batch: {max_records: 50}\n");
  ASSERT_TRUE(run(s, etl::systemClock()));
  EXPECT_EQ(observed.keys.size(), 95u - 10u);
  auto letters = etltest::readLines(etl::DeadLetterFile(dir_.path(), "t").path());
  ASSERT_EQ(letters.size(), 10u);
  EXPECT_NE(letters[0].find("\"plugin\":\"reject_tens\""), std::string::npos) << letters[0];
  EXPECT_NE(letters[0].find("\"reason\":\"divisible by ten\""), std::string::npos);
  EXPECT_NE(letters[0].find("{\\\"n\\\":0"), std::string::npos) << "the record itself is kept";
  EXPECT_EQ(metrics_.counter("t.dead_letters").load(), 10);
}

TEST_F(RunnerTest, ResumesFromTheLastCommittedCheckpoint) {
  auto first = spec("    source: {plugin: counting, count: 300}\n    sink: {plugin: observing}\n");
  ASSERT_TRUE(run(first, etl::systemClock()));
  EXPECT_EQ(observed.openedWith, "");
  observed.reset();
  auto second = spec("    source: {plugin: counting, count: 500}\n    sink: {plugin: observing}\n");
  ASSERT_TRUE(run(second, etl::systemClock()));
  EXPECT_EQ(observed.openedWith, "300");
  EXPECT_EQ(observed.keys.front(), "300");
  EXPECT_EQ(observed.keys.size(), 200u);
}

TEST_F(RunnerTest, APermanentSinkErrorStopsThePipelineWithoutCommitting) {
  auto s = spec("    source: {plugin: counting, count: 300}\n    sink: {plugin: observing}\n");
  observed.permanentFailure = true;
  EXPECT_FALSE(run(s, etl::systemClock()));
  EXPECT_EQ(etl::CheckpointFile(dir_.path(), "t").load(), "");
}

TEST_F(RunnerTest, BatchesAreCutByMaxLatency) {
  auto s = spec(
      "    source: {plugin: counting, count: 50}\n"
      "    sink: {plugin: observing}\n"
      "    batch: {max_records: 1000, max_latency: 1s}\n");
  etl::ManualClock clock(etl::TimePoint(std::chrono::hours(24 * 365 * 50)));
  observed.clock = &clock;
  observed.pollAdvance = etl::Millis(100);  // one record every 100 ms of virtual time
  ASSERT_TRUE(run(s, clock));
  ASSERT_GE(observed.batchSizes.size(), 4u);
  for (std::size_t i = 0; i + 1 < observed.batchSizes.size(); ++i) {
    EXPECT_LE(observed.batchSizes[i], 11u) << "batch " << i << " waited past max_latency";
  }
  EXPECT_EQ(observed.written, 50);
}

}  // namespace

namespace {

TEST_F(RunnerTest, APersistentRetryableFailureGivesUpAfterTheLimit) {
  auto s = spec(
      "    source: {plugin: counting, count: 100}\n"
      "    sink: {plugin: observing}\n"
      "    retry: {initial_backoff: 1s, max_backoff: 30s, give_up_after: 10m}\n");
  observed.failuresLeft = 1000000;
  etl::ManualClock clock(etl::TimePoint(std::chrono::hours(24 * 365 * 50)));
  auto start = clock.now();
  EXPECT_FALSE(run(s, clock)) << "the pipeline never gave up";
  EXPECT_GE(clock.now() - start, std::chrono::minutes(10));
  EXPECT_LT(clock.now() - start, std::chrono::minutes(11));
  EXPECT_EQ(etl::CheckpointFile(dir_.path(), "t").load(), "");
}

TEST_F(RunnerTest, OnceModeGivesUpByDefaultSoACronJobEnds) {
  auto s = spec("    source: {plugin: counting, count: 100}\n    sink: {plugin: observing}\n");
  observed.failuresLeft = 1000000;
  etl::ManualClock clock(etl::TimePoint(std::chrono::hours(24 * 365 * 50)));
  etl::QuotaHttpClient http(clock);
  etl::Services services{clock, stop_, metrics_, http, dir_.path(), true};
  services.onceGiveUp = std::chrono::minutes(5);
  etl::PipelineRunner runner(s, services);
  runner.start();
  runner.join();
  EXPECT_TRUE(runner.failed());
}

}  // namespace

namespace {

// The checkpoints committed, as numbers: each must cover exactly the batches committed before it.
std::vector<int64_t> committedCounts() {
  std::vector<int64_t> counts;
  for (const auto& c : observed.commits) counts.push_back(std::stoll(c));
  return counts;
}

TEST_F(RunnerTest, ParallelWritersCommitInBatchOrderWhateverOrderTheyFinishIn) {
  auto s = spec(
      "    source: {plugin: counting, count: 5000}\n"
      "    sink: {plugin: parallel, writers: 4}\n"
      "    batch: {max_records: 50, queue: 2}\n"
      "    retry: {initial_backoff: 10ms, max_backoff: 20ms}\n");
  observed.failuresLeft = 10;  // retried while later batches wait for their turn
  ASSERT_TRUE(run(s, etl::systemClock()));
  EXPECT_EQ(observed.writerInstances.size(), 4u);
  EXPECT_EQ(observed.writerThreads.size(), 4u);
  std::vector<int64_t> counts = committedCounts();
  ASSERT_EQ(counts.size(), 100u);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(counts[i], static_cast<int64_t>((i + 1) * 50)) << "commit " << i << " out of order";
  }
  ASSERT_EQ(observed.keys.size(), 5000u);
  for (std::size_t i = 0; i < observed.keys.size(); ++i) {
    ASSERT_EQ(observed.keys[i], std::to_string(i));
  }
}

TEST_F(RunnerTest, AHandOverWaitsUntilEverythingReadIsCommittedAndTheSourceHearsOfCommits) {
  auto s = spec(
      "    source: {plugin: handing_over, count: 2000, every: 137}\n"
      "    sink: {plugin: parallel, writers: 4}\n"
      "    batch: {max_records: 50, queue: 4}\n"
      "    retry: {initial_backoff: 10ms, max_backoff: 20ms}\n");
  observed.failuresLeft = 10;  // retried batches make later ones wait: the hand-over waits too
  ASSERT_TRUE(run(s, etl::systemClock()));
  EXPECT_EQ(observed.synced.size(), 2000u / 137);
  ASSERT_EQ(observed.keys.size(), 2000u);
  // committed() heard of durable checkpoints only, in order, ending with the last one.
  ASSERT_FALSE(observed.told.empty());
  for (std::size_t i = 1; i < observed.told.size(); ++i) {
    EXPECT_LT(std::stoll(observed.told[i - 1]), std::stoll(observed.told[i]));
  }
  for (const auto& t : observed.told) {
    EXPECT_NE(std::find(observed.commits.begin(), observed.commits.end(), t),
              observed.commits.end())
        << t << " was told but never committed";
  }
  EXPECT_EQ(observed.told.back(), "2000");
}

TEST_F(RunnerTest, AFailedBatchLetsNoLaterOneCommit) {
  auto s = spec(
      "    source: {plugin: counting, count: 5000}\n"
      "    sink: {plugin: parallel, writers: 4}\n"
      "    batch: {max_records: 50, queue: 2}\n");
  observed.failAtCheckpoint = "1000";  // the 20th batch
  EXPECT_FALSE(run(s, etl::systemClock()));
  std::vector<int64_t> counts = committedCounts();
  ASSERT_FALSE(counts.empty());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(counts[i], static_cast<int64_t>((i + 1) * 50));
  }
  EXPECT_LT(counts.back(), 1000) << "a batch after the failed one committed";
}

TEST_F(RunnerTest, WritersDefaultFromTheMachineAndAreRefusedAboveWhatTheSinkAllows) {
  auto automatic =
      spec("    source: {plugin: counting, count: 10}\n    sink: {plugin: parallel}\n");
  etl::QuotaHttpClient http(etl::systemClock());
  etl::Services services{etl::systemClock(), stop_, metrics_, http, dir_.path(), true};
  etl::PipelineRunner runner(automatic, services);
  EXPECT_GE(runner.writers(), 2u);
  EXPECT_LE(runner.writers(), 4u);
  etl::PipelineRunner single(
      spec("    source: {plugin: counting, count: 10}\n    sink: {plugin: observing}\n"), services);
  EXPECT_EQ(single.writers(), 1u);
  auto tooMany = spec(
      "    source: {plugin: counting, count: 10}\n    sink: {plugin: observing, writers: 2}\n");
  try {
    etl::PipelineRunner refused(tooMany, services);
    ADD_FAILURE() << "writers: 2 accepted for a sink that writes one batch at a time";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("writers: 2"), std::string::npos) << e.what();
  }
}

TEST(CommitOrder, AWaitThatHoldsWhatAnEarlierBatchNeedsYields) {
  etl::CommitOrder order;
  order.hold(1, "backend-1");
  std::vector<std::string> asked;
  // Batch 2 waits; batch 1 is open and (says the probe) waits for batch 2's lock.
  bool commit = order.wait(2, [&](const std::vector<std::string>& earlier) {
    asked = earlier;
    return true;
  });
  EXPECT_FALSE(commit) << "it should have rolled back to let batch 1 go first";
  EXPECT_EQ(asked, std::vector<std::string>{"backend-1"});
  std::thread first([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    order.committed(1);
  });
  EXPECT_TRUE(order.wait(2, {}));  // after rolling back: waits for batch 1, then commits
  first.join();
  order.stopFrom(3);
  EXPECT_THROW(order.wait(3, {}), etl::StoppedError);
}

}  // namespace
