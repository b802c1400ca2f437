// librdkafka for etlrun plugins: a configuration from a plugin block (`brokers`, then every entry
// of `properties`, so TLS, SASL and tuning need no code), librdkafka's own log lines on the
// plugin's logger, and its errors as etlrun's (retryable or not). Property values are never
// echoed: they may be passwords.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "etl/plugin.h"

namespace kafka {

// Properties etlrun sets before the user's; `forced` ones after them (a user value that differs is
// refused: the plugin's guarantees depend on it).
struct Settings {
  std::map<std::string, std::string> defaults;
  std::map<std::string, std::string> forced;
};

// What librdkafka's callbacks reach through the handle's opaque: a plugin derives from it.
struct Callbacks {
  explicit Callbacks(Poco::Logger& logger) : logger(logger) {}
  virtual ~Callbacks() = default;
  Poco::Logger& logger;
};

// The block's `brokers` and `properties` (a map of librdkafka property -> scalar) over `settings`.
// Throws std::runtime_error naming the property (never its value) for an unknown property or an
// invalid value. Its callbacks get `callbacks` as their opaque; it logs through its logger.
rd_kafka_conf_t* makeConf(const etl::Config& config, const Settings& settings,
                          Callbacks& callbacks);
// For the plugins' static check(): the same, discarding the result.
void checkProperties(const etl::Config& config, const Settings& settings);

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
// Creates a producer or consumer; takes `conf`.
Handle makeHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf);

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// "topic/partition": how a partition is named in checkpoints, logs and metrics.
std::string partName(const std::string& topic, int32_t partition);

// Throws for an error object (and destroys it): fatal -> std::runtime_error, retriable or
// abortable -> etl::RetryableError; `what` says what failed. Nothing for NULL.
void throwIf(rd_kafka_error_t* error, const std::string& what);

// The config keys both plugins take, in their schemas.
extern const char* const kBrokersHelp;
extern const char* const kPropertiesHelp;

}  // namespace kafka
