// etl/plugin.h: the three plugin kinds and how a plugin declares itself.
//
// A plugin is a MODULE library libetl_<name>.so built with etlrun_add_plugin(). It declares itself
// once with ETL_PLUGIN; the loader checks the ABI number (a plain C function) before it touches
// anything else, then reads the descriptor and validates the pipeline's config against the schema.
//
// Threads: each pipeline calls its source from one thread, its transforms from another, and its
// sink's write() from a third (or, with `writers: N`, from N threads, each with an instance of its
// own); a plugin instance is never called concurrently, but for Sink::prepare() (see there).
// Instances of one plugin in several pipelines (or writers) are separate objects. Shared services
// in Context are thread-safe.
#pragma once

#include <Poco/Logger.h>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "etl/batch.h"
#include "etl/clock.h"
#include "etl/config.h"
#include "etl/errors.h"
#include "etl/http.h"
#include "etl/metrics.h"
#include "etl/record.h"

// Bumped whenever a change to these headers breaks binary compatibility with built plugins.
#ifndef ETL_PLUGIN_ABI_VERSION
#define ETL_PLUGIN_ABI_VERSION 8
#endif

namespace etl {

enum class Kind { Source, Transform, Sink };
const char* kindName(Kind kind);

// What a plugin wants GET /health to show while the pipeline still works, e.g. feeds falling
// behind: the pipeline is then "degraded" (still HTTP 200, unlike a failure or staleness), with
// the text. Thread-safe; set("") clears it.
class HealthNote {
 public:
  virtual void set(const std::string& problem) = 0;

 protected:
  ~HealthNote() = default;
};

// Services the core hands to every plugin instance.
struct Context {
  std::string pipeline;    // name of the pipeline the plugin runs in
  std::string plugin;      // the plugin's name
  Poco::Logger& logger;    // logs as "<pipeline>.<plugin>"; never log secrets
  Clock& clock;            // all waiting goes through it (tests inject virtual time)
  const StopSignal& stop;  // raised at shutdown: return promptly from waits
  Metrics& metrics;
  HttpClient& http;      // shared, quota-aware
  std::string stateDir;  // a directory the plugin may keep files in
  HealthNote& health;    // shown by GET /health
};

class Plugin {
 public:
  virtual ~Plugin() = default;
};

class Source : public Plugin {
 public:
  enum class Status {
    More,  // call poll() again at once
    Idle,  // nothing more right now: the runner flushes, then polls again at `wakeAt`
    Done,  // exhausted for good (a finite input is fully read)
    // Hand-over: everything returned so far must be committed before the source goes on (a
    // consumer group takes partitions away, or gives new ones whose position the sink keeps).
    // The runner delivers the records read so far, waits until every batch is committed, then
    // calls synced() before the next poll().
    Sync,
  };
  struct Poll {
    Status status = Status::More;
    TimePoint wakeAt{};
    // Idle only: the records read so far may wait for more, up to the batch's max_latency,
    // instead of being flushed now. For a source that wakes often with a few records each time
    // (a watch list of thousands of feeds): a batch per wake would commit its whole checkpoint
    // each time.
    bool hold = false;
  };
  // `checkpoint` is the last committed state ("" on first start).
  virtual void open(const std::string& checkpoint) = 0;
  // Appends at most `maxRecords` records to `out`.
  virtual Poll poll(std::vector<Record>& out, std::size_t maxRecords) = 0;
  // State covering every record returned so far; committed with the batch that holds them.
  virtual std::string checkpoint() const = 0;
  // Input the source could not turn into records (a damaged stretch of a file, ...), moved to
  // `out` after each poll(): committed as dead letters with the batch, so nothing is skipped
  // silently.
  virtual void drainDeadLetters(std::vector<DeadLetter>& out) {}
  // After a Sync: `stored` is the checkpoint as the sink keeps it now (with a partitioned
  // checkpoint, the parts every process sharing the pipeline committed), or nullopt when the
  // core keeps it in a file of this process (the source then keeps its position elsewhere).
  virtual void synced(const std::optional<std::string>& stored) {}
  // Called on the source's thread before a poll() once a checkpoint it returned is durable
  // (the newest one only), e.g. to tell an upstream system what it may let go of.
  virtual void committed(const std::string& checkpoint) {}
  // True when checkpoint() is a JSON object of independent parts (a topic's partitions), each
  // owned by one process at a time: a sink stores each member by itself, so processes sharing
  // the pipeline never overwrite each other's parts, and a part a process no longer owns is
  // simply left out of its checkpoint.
  virtual bool partitionedCheckpoint() const { return false; }
};

class Transform : public Plugin {
 public:
  // Changes, drops, derives (into other streams) or rejects (batch.reject) records in place.
  // Must not keep references into the batch.
  virtual void apply(Batch& batch) = 0;
  // True when apply() reads what the pipeline's sink stored for earlier batches (a cache kept in
  // the same database): with parallel writers those may not be committed yet, so the runner then
  // writes one batch at a time unless the sink block sets `writers` itself.
  virtual bool readsSinkOutput() const { return false; }
};

class Sink : public Plugin {
 public:
  // Writes the batch. A RetryableError makes the runner retry the same batch, so writes must be
  // idempotent. Records the sink cannot store go to batch.reject().
  virtual void write(Batch& batch) = 0;
  // Optional: the per-record work of write() that needs no connection (validating, building
  // rows), done on the transforms' thread so that it overlaps the writing of earlier batches.
  // It may run while write() of an earlier batch runs on another thread: read only what the
  // constructor set. It may reject records and may leave its result in batch.prepared.
  virtual void prepare(Batch& batch) {}
  // True when write() commits batch.checkpoint atomically with the records; the core then asks the
  // sink, not its own file, for the checkpoint at start.
  virtual bool commitsCheckpoints() const { return false; }
  virtual std::string committedCheckpoint() { return {}; }
  // How many instances of this sink may write batches at the same time, each from its own thread
  // and in its own transaction, committing in batch order through batch.turn (so only a sink that
  // commits checkpoints can go above 1). The pipeline's sink block sets `writers: N`; without it
  // the runner picks min(this, a number from the machine).
  virtual std::size_t maxWriters() const { return 1; }
  // For a sink that commits checkpoints: where this pipeline's checkpoint lives and how an
  // operator resets it, for the message that stops a pipeline on a broken checkpoint.
  struct CheckpointLocation {
    std::string where;  // "table etl_checkpoints of postgresql://etl@db:5432/etl"
    std::string reset;  // "DELETE FROM etl_checkpoints WHERE pipeline = 'ingest'"
  };
  virtual CheckpointLocation checkpointLocation() const { return {}; }
  // For a sink that commits checkpoints where other processes may too (a shared database): makes
  // this process the pipeline's only runner there, for as long as the sink lives (a database
  // lock). Returns "" once it is ours, otherwise who holds it; the runner then waits, or ends a
  // --once run. (The core also locks the pipeline in the state directory, whatever the sink.)
  virtual std::string claim(const std::string& pipeline) { return {}; }
  // True when write() stores batch.deadLetters itself; it then lists and removes them for
  // `etlrun dead-letters` (list, show, replay after a fix, purge).
  virtual bool storesDeadLetters() const { return false; }
  virtual std::vector<StoredDeadLetter> deadLetters(const DeadLetterFilter&) { return {}; }
  virtual std::size_t removeDeadLetters(const std::vector<int64_t>&) { return 0; }
};

using CreateFn = Plugin* (*)(const Config&, Context&);
// Checks what a schema cannot express (a nested document, keys that depend on each other) without
// creating the plugin: `etlrun validate` reports what it throws, as it would at start.
using CheckFn = void (*)(const Config&);

struct PluginDescriptor {
  const char* name;
  Kind kind;
  const char* version;
  const char* description;
  const ConfigField* schema;  // ends with an empty entry
  CreateFn create;
  CheckFn check;  // nullptr when the class has no `static void check(const etl::Config&)`
  // The keys that say which data a source reads or a sink writes (a feed, the tables), ending
  // with nullptr: the core stores the pipeline's with every checkpoint and refuses to resume from
  // a checkpoint another pipeline wrote (two pipelines of one name sharing a database). Keys whose
  // change leaves the checkpoint valid (a file glob: files are known by path) do not belong here.
  // nullptr when the class has no `static constexpr const char* kIdentity[]`: the plugin's name
  // alone.
  const char* const* identity;
};

namespace detail {
template <class T, class = void>
struct HasCheck : std::false_type {};
template <class T>
struct HasCheck<T, std::void_t<decltype(T::check(std::declval<const Config&>()))>>
    : std::true_type {};
template <class T>
constexpr CheckFn checkOf() {
  if constexpr (HasCheck<T>::value) {
    return &T::check;
  } else {
    return nullptr;
  }
}
template <class T, class = void>
struct HasIdentity : std::false_type {};
template <class T>
struct HasIdentity<T, std::void_t<decltype(T::kIdentity[0])>> : std::true_type {};
template <class T>
constexpr const char* const* identityOf() {
  if constexpr (HasIdentity<T>::value) {
    return T::kIdentity;
  } else {
    return nullptr;
  }
}
}  // namespace detail

}  // namespace etl

#define ETL_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

// Declares a plugin: ETL_PLUGIN(MyClass, "my_name", etl::Kind::Sink, "1.0.0", "what it does",
// kSchema) where kSchema is a `static const etl::ConfigField[]` ending with {} and MyClass has a
// constructor (const etl::Config&, etl::Context&), and optionally a
// `static void check(const etl::Config&)` that throws for a mistake (see CheckFn) and
// `static constexpr const char* kIdentity[] = {"endpoint", nullptr};` (see
// PluginDescriptor::identity).
#define ETL_PLUGIN(Class, Name, KindValue, Version, Description, Schema)       \
  ETL_PLUGIN_EXPORT unsigned etl_plugin_abi() {                                \
    return ETL_PLUGIN_ABI_VERSION;                                             \
  }                                                                            \
  ETL_PLUGIN_EXPORT const etl::PluginDescriptor* etl_plugin_descriptor() {     \
    static const etl::PluginDescriptor descriptor{                             \
        Name,                                                                  \
        KindValue,                                                             \
        Version,                                                               \
        Description,                                                           \
        Schema,                                                                \
        [](const etl::Config& config, etl::Context& context) -> etl::Plugin* { \
          return new Class(config, context);                                   \
        },                                                                     \
        etl::detail::checkOf<Class>(),                                         \
        etl::detail::identityOf<Class>()};                                     \
    return &descriptor;                                                        \
  }
