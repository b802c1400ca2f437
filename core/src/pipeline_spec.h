// A pipeline file, parsed with yaml-cpp, with ${VAR} substitution and validated against each
// plugin's schema. Every mistake is reported as "file:line:column: message", all at once.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "etl/clock.h"
#include "etl/config.h"
#include "etl/plugin.h"
#include "plugin_loader.h"

namespace etl {

// The core's write access to a Config (plugins only read theirs).
class ConfigBuilder {
 public:
  // `locations` are those of a Document's inner nodes.
  static void set(Config& config, const std::string& key, Config::Value value,
                  std::string location = {}, std::map<std::string, std::string> locations = {}) {
    config.set(key, std::move(value), std::move(location), std::move(locations));
  }
  static void setValuePlace(Config& config, const std::string& key, std::string file,
                            std::size_t line, std::size_t column) {
    config.valuePlaces_[key] = {std::move(file), line, column};
  }
};

struct PluginSpec {
  std::string name;
  std::string location;  // file:line:column of the block
  const PluginDescriptor* descriptor = nullptr;
  Config config;
  std::size_t writers = 0;  // a sink's `writers:` (0 = not given: the runner chooses)
};

struct PipelineSpec {
  std::string name;
  std::string file;  // the pipeline file it came from, as given
  PluginSpec source;
  std::vector<PluginSpec> transforms;
  PluginSpec sink;
  std::size_t maxRecords = 500;  // batch.max_records
  Millis maxLatency{1000};       // batch.max_latency
  std::size_t queueBatches = 4;  // batch.queue: batches in flight between source and sink
  Millis retryInitial{500};      // retry.initial_backoff
  Millis retryMax{60000};        // retry.max_backoff
  // retry.give_up_after: a retryable failure lasting this long fails the pipeline. Unset: never,
  // except with --once, where the runner applies a default (a cron job must end).
  std::optional<Millis> retryGiveUp;
  // health.max_staleness: /health turns 503 when the pipeline has neither committed a batch nor
  // been caught up for this long. Unset: only a failure makes it unhealthy.
  std::optional<Millis> maxStaleness;
  // health.max_dead_letter_ratio: when more than this share of the last dead_letter_window records
  // read became dead letters, the pipeline fails (exit 70, /health 503): something is wrong with
  // all of them (a mapping, a schema, the wrong input), not with a few. Unset: 0.9 with --once, off
  // otherwise.
  std::optional<double> maxDeadLetterRatio;
  int64_t deadLetterWindow = 1000;
};

struct PipelineFile {
  std::string path;
  std::string stateDir = ".etlrun";
  std::vector<PipelineSpec> pipelines;
};

class ConfigErrors : public std::runtime_error {
 public:
  explicit ConfigErrors(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// Reads environment variables; injectable so tests control it.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup processEnvironment();

// Throws ConfigErrors listing every problem found.
PipelineFile loadPipelineFile(const std::string& path, PluginLoader& loader,
                              const EnvLookup& env = processEnvironment());

// "250ms", "30s", "5m", "24h", "2d" or plain seconds; nullopt when malformed or over 3650d.
std::optional<Millis> parseDuration(const std::string& text);

// The keys of a pipeline's `batch:` and `retry:` blocks (each array ends with an empty entry).
const ConfigField* batchKeys();
const ConfigField* retryKeys();
const ConfigField* healthKeys();
// The core's own keys of a sink block (beside `plugin`): `writers`.
const ConfigField* sinkKeys();

// Edit distance, for "did you mean".
std::size_t editDistance(const std::string& a, const std::string& b);

}  // namespace etl
