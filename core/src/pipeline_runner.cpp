#include "pipeline_runner.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <random>
#include <set>
#include <sstream>
#include <utility>

#include "bounded_queue.h"
#include "checkpoint_identity.h"
#include "commit_order.h"
#include "progress.h"
#include "state_files.h"

namespace etl {

struct PipelineRunner::Queue : BoundedQueue<Batch> {
  using BoundedQueue<Batch>::BoundedQueue;
};

namespace {

// `known` (a partitioned checkpoint: a JSON object of parts) with the parts of `now` replacing or
// adding theirs. Either may be "" (no parts).
std::string mergedParts(const std::string& known, const std::string& now) {
  if (known.empty() || now.empty()) return known.empty() ? now : known;
  auto object = [](const std::string& text) {
    return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
  };
  try {
    Poco::JSON::Object::Ptr merged = object(known);
    Poco::JSON::Object::Ptr latest = object(now);
    if (!merged || !latest) return now;
    for (const auto& [part, state] : *latest) merged->set(part, state);
    std::ostringstream out;
    merged->stringify(out);
    return out.str();
  } catch (const Poco::Exception&) {
    return now;  // not an object: the sink says so when it stores it
  }
}

// Rethrows `error` as the same kind of error with the pipeline and plugin named in front.
[[noreturn]] void rethrowNamed(const std::string& prefix) {
  try {
    throw;
  } catch (const CheckpointError& e) {
    throw CheckpointError(prefix + e.what());
  } catch (const std::exception& e) {
    throw std::runtime_error(prefix + e.what());
  }
}

template <class T>
std::unique_ptr<T> create(const PluginSpec& spec, Context& context) {
  std::unique_ptr<Plugin> plugin;
  try {
    plugin.reset(spec.descriptor->create(spec.config, context));
  } catch (const std::exception&) {
    rethrowNamed("pipeline '" + context.pipeline + "', plugin '" + spec.name + "': ");
  }
  auto* typed = dynamic_cast<T*>(plugin.get());
  if (!typed)
    throw std::runtime_error("plugin '" + spec.name + "' created the wrong kind of object");
  plugin.release();
  return std::unique_ptr<T>(typed);
}

}  // namespace

PipelineRunner::PipelineRunner(const PipelineSpec& spec, Services services)
    : spec_(spec),
      services_(std::move(services)),
      logger_(Poco::Logger::get(spec.name)),
      queue_(std::make_unique<Queue>(spec.queueBatches)),
      identity_(pipelineIdentity(spec)) {
  auto contextFor = [&](const PluginSpec& plugin) -> Context& {
    notes_.push_back(std::make_unique<Note>());
    notes_.back()->plugin = plugin.name;
    contexts_.push_back(std::make_unique<Context>(Context{
        spec_.name, plugin.name, Poco::Logger::get(spec_.name + "." + plugin.name), services_.clock,
        services_.stop, services_.metrics, services_.http, services_.stateDir, *notes_.back()}));
    return *contexts_.back();
  };
  source_ = create<Source>(spec_.source, contextFor(spec_.source));
  for (const auto& t : spec_.transforms) {
    transforms_.emplace_back(t.name, create<Transform>(t, contextFor(t)));
  }
  sinks_.push_back(create<Sink>(spec_.sink, contextFor(spec_.sink)));
  // Writers: as many as asked for, or as the machine suggests (the database does the work of
  // each on a core of its own), never more than the sink can commit in order.
  std::size_t most = std::max<std::size_t>(1, sink().maxWriters());
  std::size_t writers = spec_.sink.writers;
  readsSinkOutput_ = std::any_of(transforms_.begin(), transforms_.end(),
                                 [](const auto& t) { return t.second->readsSinkOutput(); });
  if (writers == 0 && readsSinkOutput_) {
    writers = 1;  // its next batch needs the last one committed
  } else if (writers == 0) {
    writers = std::min(most, std::clamp<std::size_t>(std::thread::hardware_concurrency(), 2, 8));
  } else if (writers > most) {
    throw std::runtime_error("pipeline '" + spec_.name + "', plugin '" + spec_.sink.name +
                             "': writers: " + std::to_string(writers) + ", but this sink can " +
                             (most == 1 ? "only write one batch at a time"
                                        : "write at most " + std::to_string(most) + " at once") +
                             " here; lower writers, or leave it out to let etlrun choose");
  }
  while (sinks_.size() < writers) {
    sinks_.push_back(create<Sink>(spec_.sink, contextFor(spec_.sink)));
  }
}

PipelineRunner::~PipelineRunner() {
  queue_->close(true);
  join();
}

void PipelineRunner::start(std::function<void()> onFinished) {
  onFinished_ = std::move(onFinished);
  progressed();  // a pipeline that just started is not stale
  running_ = 2;
  sourceThread_ = std::thread([this] {
    try {
      runSource();
    } catch (const std::exception& e) {
      // What the source read before it failed was delivered: the worker commits it, then the
      // pipeline fails with this message.
      sourceFailure_ = sourceStage_ + ": " + e.what();
    }
    queue_->close(failed_);
    finishOne();
  });
  workerThread_ = std::thread([this] {
    try {
      runWorker();
      if (!sourceFailure_.empty()) fail(sourceFailure_);
    } catch (const std::exception& e) {
      fail(e.what());
    }
    // However the worker ended (drained, failed, or stopped while waiting to retry), a source
    // blocked on a full queue must not wait for it forever.
    queue_->close(true);
    finishOne();
  });
}

void PipelineRunner::join() {
  if (sourceThread_.joinable()) sourceThread_.join();
  if (workerThread_.joinable()) workerThread_.join();
  // The last batches committed after the source thread ended: the source hears of them now.
  std::optional<std::string> told;
  {
    std::lock_guard<std::mutex> lock(committedMutex_);
    told.swap(untoldCheckpoint_);
  }
  if (!told || !source_) return;
  try {
    source_->committed(splitCheckpoint(*told, source_->partitionedCheckpoint()).position);
  } catch (const std::exception& e) {
    logger_.warning("source '" + spec_.source.name + "' (last commit): " + e.what());
  }
}

void PipelineRunner::finishOne() {
  if (--running_ == 0 && onFinished_) onFinished_();
}

std::vector<std::string> PipelineRunner::warnings() const {
  std::vector<std::string> out;
  for (const auto& note : notes_) {
    std::lock_guard<std::mutex> lock(note->mutex);
    if (!note->text.empty()) out.push_back(note->plugin + ": " + note->text);
  }
  return out;
}

std::string PipelineRunner::failure() const {
  std::lock_guard<std::mutex> lock(failureMutex_);
  return failure_;
}

void PipelineRunner::fail(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(failureMutex_);
    failure_ = message;
  }
  failed_ = true;
  logger_.critical("pipeline stopped: " + message);
  queue_->close(true);
}

bool PipelineRunner::backoff(const std::string& what, const std::exception& error, int attempt,
                             std::optional<TimePoint> notBefore, TimePoint& since) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  TimePoint now = services_.clock.now();
  if (attempt == 1) since = now;
  std::optional<Millis> giveUp = spec_.retryGiveUp;
  if (!giveUp && services_.once) giveUp = services_.onceGiveUp;
  if (giveUp && giveUp->count() > 0 && now - since >= *giveUp) {
    throw std::runtime_error(what + " kept failing for " + std::to_string(giveUp->count() / 1000) +
                             " s (retry.give_up_after): " + error.what());
  }
  auto base = spec_.retryInitial * (1LL << std::min(attempt - 1, 20));
  if (base > spec_.retryMax) base = spec_.retryMax;
  // "Equal jitter": half fixed, half random, so retries of several processes spread out.
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(1, base.count() / 2));
  TimePoint next = now + Millis(base.count() / 2 + jitter(random));
  if (notBefore && *notBefore > next) next = *notBefore;
  logger_.warning(what + " failed (attempt " + std::to_string(attempt) + "): " + error.what() +
                  "; retrying at " + isoTime(next));
  services_.metrics.counter(spec_.name + ".retries").fetch_add(1);
  return services_.clock.sleepUntil(next, services_.stop);
}

bool PipelineRunner::own() {
  if (!ownerLock_) ownerLock_ = std::make_unique<OwnerLock>(services_.stateDir, spec_.name);
  bool told = false;
  TimePoint since{};
  for (int attempt = 1;; ++attempt) {
    std::string holder;
    try {
      holder = ownerLock_->take();
      if (holder.empty()) holder = sink().claim(spec_.name);
    } catch (const RetryableError& e) {
      if (!backoff("taking pipeline '" + spec_.name + "'", e, attempt, e.notBefore(), since)) {
        return false;
      }
      continue;
    }
    if (holder.empty()) {
      if (told) logger_.information("pipeline '" + spec_.name + "' is this process's now");
      return true;
    }
    if (services_.once) {
      logger_.error("pipeline '" + spec_.name + "' is running in another process (" + holder +
                    "): this --once run reads nothing and ends (exit 75). Two runs of one "
                    "pipeline at once would store its records twice");
      busy_ = true;
      return false;
    }
    if (!told) {
      logger_.warning("pipeline '" + spec_.name + "' is running in another process (" + holder +
                      "): waiting, this one takes over when it stops");
      told = true;
    }
    sourceStage_ = "source '" + spec_.source.name + "' (waiting for the pipeline's other process)";
    if (!services_.clock.sleepUntil(services_.clock.now() + std::chrono::seconds(2),
                                    services_.stop)) {
      return false;
    }
  }
}

void PipelineRunner::runSource() {
  sourceStage_ = "source '" + spec_.source.name + "'";
  std::string checkpoint;  // as stored: the source's position with its identity
  std::string position;    // the source's own part of it
  // A group member shares its pipeline with the group by design: its parts are fenced instead
  // (compare-and-set checkpoints).
  if (!source_->partitionedCheckpoint() && !own()) return;
  sourceStage_ = "source '" + spec_.source.name + "'";
  try {
    if (sink().commitsCheckpoints()) {
      sourceStage_ = "sink '" + spec_.sink.name + "' (reading the checkpoint)";
      TimePoint since{};
      for (int attempt = 1;; ++attempt) {
        try {
          checkpoint = sink().committedCheckpoint();
          break;
        } catch (const RetryableError& e) {
          if (!backoff("reading the checkpoint", e, attempt, e.notBefore(), since)) return;
        }
      }
    } else {
      checkpoint = CheckpointFile(services_.stateDir, spec_.name).load();
    }
    sourceStage_ = "source '" + spec_.source.name + "'";
    StoredCheckpoint stored = splitCheckpoint(checkpoint, source_->partitionedCheckpoint());
    if (stored.identity && !sameIdentity(*stored.identity, identity_)) {
      refuseOthersCheckpoint(*stored.identity);
    }
    if (!stored.identity && !checkpoint.empty()) {
      logger_.information(
          "the checkpoint does not say which pipeline wrote it (an earlier "
          "etlrun's): taken as this one's, " +
          describeIdentity(identity_) + "; the next commit records it");
    }
    position = stored.position;
    source_->open(position);
  } catch (const CheckpointError& e) {
    Sink::CheckpointLocation location = checkpointLocation();
    throw std::runtime_error(
        "the checkpoint of pipeline '" + spec_.name + "' (" +
        (location.where.empty() ? "kept by sink '" + spec_.sink.name + "'" : location.where) +
        ") cannot be used: " + e.what() +
        ". Nothing was read. To start this pipeline from the beginning instead, " +
        (location.reset.empty() ? "reset the sink's checkpoint" : location.reset) +
        " (an idempotent sink then skips what it already holds)");
  }
  logger_.information(
      std::string(checkpoint.empty() ? "starting fresh" : "resuming from checkpoint") + ": " +
      spec_.source.name + " -> " + std::to_string(transforms_.size()) + " transform(s) -> " +
      spec_.sink.name + " (" + std::to_string(sinks_.size()) + " writer(s))");

  auto& paused = services_.metrics.counter(spec_.name + ".source_paused");
  auto& polled = services_.metrics.counter(spec_.name + ".records_in");
  std::string lastPushed = checkpoint;
  // The source's last checkpoint, by its hash: a flush without records pushes one only when it
  // moved (kept whole, it would be one more copy of a checkpoint that can be a megabyte).
  auto fingerprint = [](const std::string& state) {
    return std::make_pair(std::hash<std::string>()(state), state.size());
  };
  auto lastPosition = fingerprint(position);
  const bool parts = source_->partitionedCheckpoint();
  // Partitioned: each part as last stored or pushed, whichever came later (a source's checkpoint
  // holds only the parts it read from; the others' stored states still stand).
  std::string known = checkpoint;
  Batch pending;
  TimePoint firstAt{};
  auto flush = [&]() -> bool {
    std::string now = source_->checkpoint();
    auto moved = fingerprint(now);
    if (pending.records.empty() && pending.deadLetters.empty() && moved == lastPosition) {
      return true;
    }
    lastPosition = moved;
    pending.checkpoint = stampCheckpoint(identity_, now, parts);
    pending.checkpointParts = parts;
    // Moved, not copied, where they are not needed again: a watch list's checkpoint is a megabyte.
    // A batch without a checkpoint (a source that has none now) leaves the stored one as it is:
    // the next one is compared with that.
    if (parts) {
      pending.previousCheckpoint = known;
    } else if (!pending.checkpoint.empty()) {
      pending.previousCheckpoint = std::exchange(lastPushed, pending.checkpoint);
    } else {
      pending.previousCheckpoint = lastPushed;
    }
    if (parts) known = mergedParts(known, pending.checkpoint);
    bool ok = queue_->push(std::move(pending), [&paused] { paused.fetch_add(1); });
    pending = Batch();
    if (ok) ++pushed_;
    return ok;
  };

  int attempt = 0;
  TimePoint failingSince{};
  while (!services_.stop.requested()) {
    Source::Poll poll;
    std::size_t before = pending.records.size();
    std::size_t lettersBefore = pending.deadLetters.size();
    try {
      std::optional<std::string> told;
      {
        std::lock_guard<std::mutex> lock(committedMutex_);
        told.swap(untoldCheckpoint_);
      }
      if (told) source_->committed(splitCheckpoint(*told, parts).position);
      try {
        poll = source_->poll(pending.records, spec_.maxRecords - before);
      } catch (...) {
        collectDeadLetters(pending, lettersBefore);
        throw;
      }
      collectDeadLetters(pending, lettersBefore);
      attempt = 0;
    } catch (const RetryableError& e) {
      if (!flush()) return;
      if (!backoff("polling " + spec_.source.name, e, ++attempt, e.notBefore(), failingSince)) {
        break;
      }
      continue;
    } catch (const std::exception&) {
      flush();  // what was read before the failure is still stored
      throw;
    }
    if (pending.records.size() > before) {
      polled.fetch_add(static_cast<int64_t>(pending.records.size() - before));
      if (before == 0) firstAt = services_.clock.now();
    }
    bool full = pending.records.size() >= spec_.maxRecords;
    bool late = !pending.records.empty() && services_.clock.now() - firstAt >= spec_.maxLatency;
    bool hold = poll.status == Source::Status::Idle && poll.hold && !pending.records.empty();
    if (full || late || (poll.status != Source::Status::More && !hold)) {
      if (!flush()) return;
      hold = false;
    }
    if (poll.status == Source::Status::Sync) {
      sourceStage_ = "source '" + spec_.source.name + "' (handing over)";
      if (!awaitPushedCommitted()) break;
      try {
        // What is stored now is what the next batch must find (the parts just taken included).
        std::optional<std::string> stored = storedCheckpoint();
        if (stored) {
          StoredCheckpoint split = splitCheckpoint(*stored, parts);
          // Adopted for another pipeline meanwhile (a group member that kept running): this one
          // must not write its identity back over it.
          if (split.identity && !sameIdentity(*split.identity, identity_)) {
            refuseOthersCheckpoint(*split.identity);
          }
          source_->synced(split.position);
          known = *stored;
        } else {
          source_->synced(std::nullopt);
        }
      } catch (const StoppedError&) {
        break;  // stopping while the sink could not be read: nothing more is read
      }
      sourceStage_ = "source '" + spec_.source.name + "'";
      continue;
    }
    // Caught up: nothing more to read right now and nothing waiting for the sink.
    if (poll.status != Source::Status::More && pending.records.empty() && queue_->empty()) {
      progressed();
    }
    if (poll.status == Source::Status::Done) break;
    if (poll.status == Source::Status::Idle) {
      if (services_.once) break;
      // A held batch is flushed at its max_latency at the latest.
      TimePoint wake = hold ? std::min(poll.wakeAt, firstAt + spec_.maxLatency) : poll.wakeAt;
      if (!services_.clock.sleepUntil(wake, services_.stop)) break;
    }
  }
  flush();  // on stop: what was read so far is delivered and committed (graceful drain)
}

// Asked when needed: a sink knows where once it has connected.
Sink::CheckpointLocation PipelineRunner::checkpointLocation() {
  if (sink().commitsCheckpoints()) return sink().checkpointLocation();
  std::string path = CheckpointFile(services_.stateDir, spec_.name).path();
  return {path, "delete " + path};
}

void PipelineRunner::refuseOthersCheckpoint(const std::string& storedIdentity) {
  refused_ = true;
  std::string where = checkpointLocation().where;
  throw std::runtime_error(
      "the checkpoint of pipeline '" + spec_.name + "'" +
      (where.empty() ? "" : " (" + where + ")") + " was written by another pipeline, " +
      describeIdentity(storedIdentity) + "; this one is " + describeIdentity(identity_) +
      ". Nothing was read. Two pipelines of one name share one checkpoint there, and this one "
      "would skip what the other read: if it is another pipeline, give it a name of its own; if "
      "it is this pipeline changed on purpose (another feed, tables added or renamed: what was "
      "read before does not reach them), take the checkpoint over with `etlrun checkpoint " +
      (spec_.file.empty() ? std::string("PIPELINE.yaml") : spec_.file) +
      " adopt --pipeline=" + spec_.name + " --state-dir=" + services_.stateDir + "`");
}

void PipelineRunner::noteCommitted(Batch& batch) {
  std::lock_guard<std::mutex> lock(committedMutex_);
  ++committedBatches_;
  if (!batch.checkpoint.empty()) untoldCheckpoint_ = std::move(batch.checkpoint);
  committedChanged_.notify_all();
}

bool PipelineRunner::awaitPushedCommitted() {
  std::unique_lock<std::mutex> lock(committedMutex_);
  while (committedBatches_ < pushed_) {
    if (services_.stop.requested() || failed_) return false;
    // Real time, not the pipeline's clock: this waits for other threads, not for a moment.
    committedChanged_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return true;
}

std::optional<std::string> PipelineRunner::storedCheckpoint() {
  if (!sink().commitsCheckpoints()) return std::nullopt;
  // Every batch is committed and none is in flight: the first writer's sink is idle.
  TimePoint since{};
  for (int attempt = 1;; ++attempt) {
    try {
      return sink().committedCheckpoint();
    } catch (const RetryableError& e) {
      if (!backoff("reading the checkpoint", e, attempt, e.notBefore(), since)) {
        throw StoppedError("stopped while reading the checkpoint");
      }
    }
  }
}

void PipelineRunner::collectDeadLetters(Batch& pending, std::size_t from) {
  source_->drainDeadLetters(pending.deadLetters);
  for (std::size_t i = from; i < pending.deadLetters.size(); ++i) {
    if (pending.deadLetters[i].plugin.empty()) pending.deadLetters[i].plugin = spec_.source.name;
  }
}

std::vector<StoredDeadLetter> PipelineRunner::deadLetters(DeadLetterFilter filter) {
  if (!sink().storesDeadLetters()) {
    throw std::runtime_error("sink '" + spec_.sink.name + "' keeps no dead letters: pipeline '" +
                             spec_.name + "' writes them to " +
                             DeadLetterFile(services_.stateDir, spec_.name).path() +
                             " (JSON lines)");
  }
  filter.pipeline = spec_.name;
  return sink().deadLetters(filter);
}

PipelineRunner::Replay PipelineRunner::replay(DeadLetterFilter filter) {
  Replay result;
  for (std::size_t left = filter.limit ? filter.limit : SIZE_MAX; left > 0;) {
    // A batch at a time, by id: letters that fail again are passed over, not read again.
    DeadLetterFilter page = filter;
    page.limit = std::min(left, spec_.maxRecords);
    std::vector<StoredDeadLetter> letters = deadLetters(page);
    if (letters.empty()) break;
    filter.afterId = letters.back().id;
    left -= letters.size();
    Batch batch;
    for (const auto& l : letters) batch.records.emplace_back(l.stream, l.record);
    for (auto& [name, transform] : transforms_) {
      std::size_t before = batch.deadLetters.size();
      transform->apply(batch);
      for (std::size_t i = before; i < batch.deadLetters.size(); ++i) {
        batch.deadLetters[i].plugin = name;
      }
    }
    settleOrigins(batch);
    CommitOrder order;  // one batch at a time: its turn is now
    CommitOrder::Turn turn(order, 1);
    batch.turn = &turn;
    sink().write(batch);  // no checkpoint: nothing about the source moves
    std::set<std::pair<std::string, std::string>> failing;
    for (const auto& d : batch.deadLetters) failing.emplace(d.record.stream(), d.record.raw());
    std::vector<int64_t> done;
    for (const auto& l : letters) {
      if (!failing.count({l.stream, l.record})) done.push_back(l.id);
    }
    result.replayed += letters.size();
    result.removed += sink().removeDeadLetters(done);
    result.stillDead += letters.size() - done.size();
  }
  return result;
}

std::size_t PipelineRunner::purge(DeadLetterFilter filter) {
  std::vector<int64_t> ids;
  for (const auto& l : deadLetters(filter)) ids.push_back(l.id);
  return sink().removeDeadLetters(ids);
}

// A transformed batch on its way to a writer, numbered in reading order.
struct PipelineRunner::Job {
  uint64_t seq = 0;
  Batch batch;
  std::size_t read = 0;  // records the source gave for it (its own dead letters included)
};

// What follows a batch's commit, in batch order: metrics, the core's dead-letter and checkpoint
// files (for sinks that keep neither), progress; and the order the writers commit in.
struct PipelineRunner::Committer {
  explicit Committer(PipelineRunner& runner)
      : runner(runner),
        spec(runner.spec_),
        metrics(runner.services_.metrics),
        checkpointFile(runner.services_.stateDir, spec.name),
        deadLetterFile(runner.services_.stateDir, spec.name),
        out(metrics.counter(spec.name + ".records_out")),
        dead(metrics.counter(spec.name + ".dead_letters")),
        writeLatency(metrics.histogram("batch_write", {{"pipeline", spec.name}})),
        meter(metrics, spec.name),
        lastReport(Clock_::now()),
        order(&metrics.counter("commit_yields", {{"pipeline", spec.name}})) {}

  // Called for batch n only once batches 1..n-1 are through here; `read`: the records the source
  // gave for it.
  // `work` is done with: its checkpoint is moved on to the source (noteCommitted).
  void committed(Batch& work, std::size_t read) {
    {
      std::lock_guard<std::mutex> lock(windowMutex);
      recent.emplace_back(static_cast<int64_t>(read),
                          static_cast<int64_t>(work.deadLetters.size()));
      recentRead += static_cast<int64_t>(read);
      recentDead += static_cast<int64_t>(work.deadLetters.size());
      // Keep the newest batches that cover the window, no more.
      while (recent.size() > 1 && recentRead - recent.front().first >= spec.deadLetterWindow) {
        recentRead -= recent.front().first;
        recentDead -= recent.front().second;
        recent.pop_front();
      }
    }
    Sink& sink = runner.sink();
    if (!sink.storesDeadLetters()) deadLetterFile.append(work.deadLetters);
    if (!sink.commitsCheckpoints() && !work.checkpoint.empty()) {
      checkpointFile.save(work.checkpoint);
    }
    runner.noteCommitted(work);
    runner.progressed();
    runner.lastCommit_ = runner.services_.clock.now().time_since_epoch().count();
    out.fetch_add(static_cast<int64_t>(work.records.size()));
    dead.fetch_add(static_cast<int64_t>(work.deadLetters.size()));
    for (const auto& letter : work.deadLetters) {
      runner.logger_.warning("dead letter from " + letter.plugin + ": " + letter.reason);
      metrics
          .counter("dead_letter_records", {{"pipeline", spec.name},
                                           {"plugin", letter.plugin},
                                           {"stream", letter.record.stream()}})
          .fetch_add(1);
    }
    for (const auto& record : work.records) ++written[record.stream()];
    for (auto& [stream, n] : written) {
      if (n == 0) continue;
      metrics.counter("stream_records", {{"pipeline", spec.name}, {"stream", stream}}).fetch_add(n);
      n = 0;
    }
    report(false);
  }

  // Fails the pipeline when more than the allowed share of the latest records became dead letters:
  // once the window is full, or (`final`) at the end of a run that read fewer.
  void judgeDeadLetters(bool final) {
    std::optional<double> ratio = spec.maxDeadLetterRatio;
    if (!ratio && runner.services_.once) ratio = 0.9;
    if (!ratio || *ratio >= 1) return;
    std::lock_guard<std::mutex> lock(windowMutex);
    // A run of a few records is not judged: a handful of bad lines is not a pattern.
    int64_t least = final ? std::min<int64_t>(spec.deadLetterWindow, 100) : spec.deadLetterWindow;
    if (recentRead < least) return;
    if (static_cast<double>(recentDead) <= *ratio * static_cast<double>(recentRead)) return;
    char share[32];
    std::snprintf(share, sizeof share, "%.0f%%", 100.0 * *ratio);
    throw std::runtime_error(
        std::to_string(recentDead) + " of the last " + std::to_string(recentRead) +
        " records became dead letters, more than health.max_dead_letter_ratio (" + share +
        (spec.maxDeadLetterRatio ? "" : ", the default with --once") +
        "): something is wrong with all of them, not a few (the mapping, the table, the input "
        "itself). Stopping; the letters and their reasons are kept (etlrun dead-letters ... list)");
  }

  // Progress every 10 s of real time: long backfills say how far they are and how fast they go.
  void report(bool final) {
    auto now = Clock_::now();
    double seconds = std::chrono::duration<double>(now - lastReport).count();
    if (!final && seconds < 10) return;
    std::string line = "progress: " + meter.line(false);
    for (const auto& [shortName, value] : metrics.snapshotOf(spec.name)) {
      if (shortName == "records_in" || shortName == "records_out" || shortName == "dead_letters" ||
          shortName == "files_done" || shortName == "files_planned")
        continue;
      line += ", " + shortName + " " + std::to_string(value);
    }
    runner.logger_.information(line);
    lastReport = now;
  }

  PipelineRunner& runner;
  const PipelineSpec& spec;
  Metrics& metrics;
  CheckpointFile checkpointFile;
  DeadLetterFile deadLetterFile;
  std::atomic<int64_t>& out;
  std::atomic<int64_t>& dead;
  Histogram& writeLatency;
  std::map<std::string, int64_t> written;  // per stream, for etlrun_stream_records_total
  ProgressMeter meter;
  Clock_::time_point lastReport;
  CommitOrder order;
  std::mutex windowMutex;
  std::deque<std::pair<int64_t, int64_t>> recent;  // per committed batch: records read, letters
  int64_t recentRead = 0, recentDead = 0;
};

namespace {

// Hands transformed batches from the worker to the next idle writer; holds none itself, so the
// batches in memory stay bounded by the queue plus one per writer.
template <class Job>
class Handoff {
 public:
  // Blocks until a writer is idle; false once closed.
  bool put(Job job) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || (idle_ > 0 && !job_); });
    if (closed_) return false;
    job_ = std::move(job);
    changed_.notify_all();
    return true;
  }
  // Blocks until there is a job; nullopt once closed and drained.
  std::optional<Job> take() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++idle_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return closed_ || job_; });
    --idle_;
    if (!job_ || discard_) return std::nullopt;
    std::optional<Job> job = std::move(job_);
    job_.reset();
    changed_.notify_all();
    return job;
  }
  // No more jobs; `discard` drops the one not taken yet (on failure).
  void close(bool discard = false) {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    discard_ = discard_ || discard;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<Job> job_;
  int idle_ = 0;
  bool closed_ = false, discard_ = false;
};

}  // namespace

std::optional<Batch> PipelineRunner::transformed(Batch&& batch) {
  // Without transforms there is nothing to retry: the batch goes on as it is, not copied.
  if (transforms_.empty()) {
    settleOrigins(batch);
    return std::move(batch);
  }
  TimePoint failingSince{};
  for (int attempt = 1;; ++attempt) {
    // Transforms work on a copy so that a retry starts again from the source's batch.
    Batch work = batch;
    std::string stage;
    try {
      for (auto& [name, transform] : transforms_) {
        stage = "transform " + name;
        std::size_t rejectedBefore = work.deadLetters.size();
        transform->apply(work);
        for (std::size_t i = rejectedBefore; i < work.deadLetters.size(); ++i) {
          work.deadLetters[i].plugin = name;
        }
      }
      // The records made from one input are stored together or not at all.
      settleOrigins(work);
      return work;
    } catch (const RetryableError& e) {
      // Stopping: not committed; the source resends it on the next start.
      if (!backoff(stage, e, attempt, e.notBefore(), failingSince)) return std::nullopt;
    } catch (const StoppedError&) {
      return std::nullopt;  // a transform gave up its work because the pipeline stops
    } catch (const std::exception& e) {
      throw std::runtime_error(stage + ": " + e.what());
    }
  }
}

bool PipelineRunner::writeBatch(Sink& sink, Job& job, Committer& committer) {
  std::string stage = "sink " + spec_.sink.name;
  CommitOrder::Turn turn(committer.order, job.seq);
  TimePoint failingSince{};
  for (int attempt = 1;; ++attempt) {
    Batch work = job.batch;  // a retry starts again from the transformed batch
    work.turn = &turn;
    try {
      std::size_t rejectedBefore = work.deadLetters.size();
      auto started = std::chrono::steady_clock::now();
      sink.write(work);
      committer.writeLatency.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      for (std::size_t i = rejectedBefore; i < work.deadLetters.size(); ++i) {
        if (work.deadLetters[i].plugin.empty()) work.deadLetters[i].plugin = spec_.sink.name;
      }
      // A sink with one writer need not have waited; the rest follows in batch order anyway.
      committer.order.wait(job.seq, {});
      committer.committed(work, job.read);
      committer.order.committed(job.seq);
      return true;
    } catch (const StoppedError&) {
      return false;  // an earlier batch did not commit, so this one did not either
    } catch (const RetryableError& e) {
      if (!backoff(stage, e, attempt, e.notBefore(), failingSince)) {
        committer.order.stopFrom(job.seq);  // stopping: the batches after it must not commit
        return false;
      }
    } catch (const std::exception& e) {
      committer.order.stopFrom(job.seq);
      throw std::runtime_error(stage + ": " + e.what());
    }
  }
}

void PipelineRunner::runWorker() {
  auto& depth = services_.metrics.gauge("queue_batches", {{"pipeline", spec_.name}});
  Committer committer(*this);
  Handoff<Job> handoff;
  // Writers on threads of their own, even a single one: the transforms (and the sink's prepare)
  // of the next batch overlap the writing of this one.
  std::vector<std::thread> writers;
  for (auto& sink : sinks_) {
    writers.emplace_back([this, &sink, &handoff, &committer] {
      try {
        while (auto job = handoff.take()) {
          if (!writeBatch(*sink, *job, committer)) break;
          committer.judgeDeadLetters(false);
        }
      } catch (const std::exception& e) {
        fail(e.what());
      }
      handoff.close(true);  // the worker must not wait for a writer that is gone
    });
  }
  uint64_t seq = 0;
  try {
    while (auto batch = queue_->pop()) {
      depth.store(static_cast<int64_t>(queue_->size()));
      // Such a transform reads what the sink stored: everything before this batch must be in.
      if (readsSinkOutput_ && seq > 0 && !committer.order.awaitCommitted(seq)) break;
      std::size_t read = batch->records.size() + batch->deadLetters.size();
      std::optional<Batch> work = transformed(std::move(*batch));
      batch.reset();  // only the transformed batch is kept while it waits for a writer
      if (!work) break;
      try {
        sink().prepare(*work);
      } catch (const std::exception& e) {
        throw std::runtime_error("sink " + spec_.sink.name + " (preparing a batch): " + e.what());
      }
      for (auto& letter : work->deadLetters) {
        if (letter.plugin.empty()) letter.plugin = spec_.sink.name;
      }
      if (!handoff.put(Job{++seq, std::move(*work), read})) break;
    }
  } catch (...) {
    handoff.close(true);
    committer.order.stopFrom(seq + 1);  // what was handed out before may still commit
    for (auto& w : writers) w.join();
    throw;
  }
  handoff.close(failed_);
  for (auto& w : writers) w.join();
  committer.report(true);
  // A run that ended before its window filled is judged on what it read.
  if (!failed_ && !services_.stop.requested()) committer.judgeDeadLetters(true);
}

}  // namespace etl
