// Runs one pipeline: a source thread fills batches (by count or max latency) into a bounded queue;
// a worker thread applies the transforms and hands each batch to the sink, retrying retryable
// failures with exponential backoff and jitter, then commits the batch's checkpoint. With
// `writers: N` (a sink that allows it), N threads each write whole batches through their own sink
// instance and commit them in batch order (CommitOrder).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "etl/plugin.h"
#include "pipeline_spec.h"

namespace etl {

struct Services {
  Clock& clock;
  StopSignal& stop;
  Metrics& metrics;
  HttpClient& http;
  std::string stateDir;
  bool once = false;  // finish when every source has nothing more right now
  // With `once`, a retryable failure lasting this long fails the pipeline unless the pipeline
  // sets retry.give_up_after itself: a cron job must end.
  Millis onceGiveUp{15 * 60 * 1000};
};

class PipelineRunner {
 public:
  // Creates the plugins (their constructors may throw: reported before any thread starts).
  PipelineRunner(const PipelineSpec& spec, Services services);
  ~PipelineRunner();

  // `onFinished` is called from a runner thread when the pipeline ends, cleanly or not.
  void start(std::function<void()> onFinished = {});
  void join();
  bool failed() const { return failed_; }
  // With --once: another process runs this pipeline, so this run ended without reading.
  bool busy() const { return busy_; }
  // It did not start because its checkpoint belongs to another pipeline: a configuration problem
  // (exit 78, not retried by a service manager), not a failure.
  bool refused() const { return refused_; }
  // Why it failed ("" while it has not).
  std::string failure() const;
  // The last time a batch committed or the source was caught up with nothing in flight.
  TimePoint lastProgress() const { return TimePoint(TimePoint::duration(lastProgress_.load())); }
  // The last time a batch committed (the epoch when none has yet).
  TimePoint lastCommit() const { return TimePoint(TimePoint::duration(lastCommit_.load())); }
  const PipelineSpec& spec() const { return spec_; }

  // `etlrun dead-letters`, on a runner that is not started: the dead letters its sink keeps for
  // this pipeline (throws when the sink keeps none: they are in the state directory's file).
  std::vector<StoredDeadLetter> deadLetters(DeadLetterFilter filter);
  // Runs the selected letters through the transforms and the sink again (no checkpoint moves;
  // storing is idempotent) and removes those that now go through; the others stay, and a letter
  // that fails anew for another reason is recorded with that reason.
  struct Replay {
    std::size_t replayed = 0, removed = 0, stillDead = 0;
  };
  Replay replay(DeadLetterFilter filter);
  std::size_t purge(DeadLetterFilter filter);
  // `etlrun checkpoint`, on a runner that is not started: what is stored for this pipeline (who
  // wrote it, the source's position) and where, and taking it over for this pipeline.
  struct CheckpointView {
    std::string where;
    std::string stored;                   // as stored ("" when there is none)
    std::optional<std::string> identity;  // of the pipeline that wrote it, if it says
    std::string position;                 // the source's own part
    std::string ours;                     // this pipeline's identity
  };
  CheckpointView checkpointView();
  // Stamps the stored position with this pipeline's identity, under the pipeline's owner
  // lock. Returns what was done, for people; throws when another process runs the pipeline.
  std::string adoptCheckpoint();
  bool finished() const { return running_ == 0; }
  const std::string& name() const { return spec_.name; }
  // What the plugins noted for /health ("plugin: problem"), thread-safe.
  std::vector<std::string> warnings() const;
  std::size_t writers() const { return sinks_.size(); }

 private:
  void runSource();
  // Makes this process the pipeline's only runner: a lock in the state directory and the sink's
  // claim. Waits while another process holds them (a service takes over when it stops); with
  // --once, returns false at once (busy). False as well when stopping.
  bool own();
  void runWorker();
  struct Job;
  struct Committer;
  // Applies the transforms to a copy of `batch`, retrying; nullopt when stopping.
  std::optional<Batch> transformed(Batch&& batch);
  // Writes one batch through `sink` until it commits (retrying); false when it will not (stopping,
  // or an earlier batch did not commit). Throws for a permanent failure.
  bool writeBatch(Sink& sink, Job& job, Committer& committer);
  Sink& sink() const { return *sinks_.front(); }
  // Moves the source's dead letters into the batch being filled, stamped with the source's name.
  void collectDeadLetters(Batch& pending, std::size_t from);
  void fail(const std::string& message);
  void finishOne();
  // Where the checkpoint lives and how it is reset, for messages.
  Sink::CheckpointLocation checkpointLocation();
  [[noreturn]] void refuseOthersCheckpoint(const std::string& storedIdentity);
  // Waits for the next retry; false when stopping. Logs what failed and when it retries.
  // `since` is when this run of failures began (set on attempt 1). Throws once it has lasted
  // longer than the give-up limit.
  bool backoff(const std::string& what, const std::exception& error, int attempt,
               std::optional<TimePoint> notBefore, TimePoint& since);

  PipelineSpec spec_;
  Services services_;
  Poco::Logger& logger_;
  struct Note : HealthNote {
    void set(const std::string& problem) override {
      std::lock_guard<std::mutex> lock(mutex);
      text = problem;
    }
    std::string plugin;
    mutable std::mutex mutex;
    std::string text;
  };
  std::vector<std::unique_ptr<Note>> notes_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::unique_ptr<Source> source_;
  std::vector<std::pair<std::string, std::unique_ptr<Transform>>> transforms_;
  std::vector<std::unique_ptr<Sink>> sinks_;  // one per writer
  bool readsSinkOutput_ = false;              // a transform reads what the sink stored
  struct Queue;
  std::unique_ptr<Queue> queue_;
  std::thread sourceThread_, workerThread_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> busy_{false};
  std::atomic<bool> refused_{false};
  const std::string identity_;  // the pipeline's (checkpoint_identity.h), stored with checkpoints
  std::unique_ptr<class OwnerLock> ownerLock_;  // held while the runner lives
  mutable std::mutex failureMutex_;
  std::string failure_;
  std::atomic<TimePoint::rep> lastProgress_{0};
  std::atomic<TimePoint::rep> lastCommit_{0};
  void progressed() { lastProgress_ = services_.clock.now().time_since_epoch().count(); }
  std::string sourceFailure_;           // set by the source thread before it closes the queue
  std::string sourceStage_ = "source";  // what the source thread is doing, for its errors
  // Hand-over (Source::Status::Sync) and Source::committed(): batches pushed by the source
  // thread, batches committed (in order), and the newest committed checkpoint not yet told.
  uint64_t pushed_ = 0;
  std::mutex committedMutex_;
  std::condition_variable committedChanged_;
  uint64_t committedBatches_ = 0;
  std::optional<std::string> untoldCheckpoint_;
  void noteCommitted(Batch& batch);  // takes its checkpoint
  // Blocks until every pushed batch is committed; false when stopping or failed.
  bool awaitPushedCommitted();
  // The checkpoint the sink keeps now (nullopt: the core's file), retrying; for synced().
  std::optional<std::string> storedCheckpoint();
  std::atomic<int> running_{0};
  std::function<void()> onFinished_;
};

}  // namespace etl
