#include "kafka_client.h"

#include <Poco/JSON/Parser.h>

#include <stdexcept>

namespace kafka {

const char* const kBrokersHelp =
    "bootstrap servers, host:port[,host:port...] (librdkafka's bootstrap.servers)";
const char* const kPropertiesHelp =
    "any librdkafka property as key: value (security.protocol, sasl.mechanism, "
    "sasl.username, sasl.password: ${KAFKA_PASSWORD}, ssl.ca.location, linger.ms, ...); values "
    "are never logged";

namespace {

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) !=
      RD_KAFKA_CONF_OK) {
    // librdkafka's message names the property and the rule, not the value.
    throw std::runtime_error("properties: " + key + ": " + error);
  }
}

std::map<std::string, std::string> properties(const etl::Config& config) {
  std::map<std::string, std::string> out;
  if (!config.has("properties")) return out;
  Poco::JSON::Object::Ptr object;
  try {
    object = Poco::JSON::Parser()
                 .parse(config.getDocument("properties"))
                 .extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    throw std::runtime_error("properties must be a map of librdkafka property: value");
  }
  for (const auto& [key, value] : *object) {
    if (value.isEmpty() || value.isStruct() || value.isArray()) {
      throw std::runtime_error("properties: " + key + " must be a single value");
    }
    out[key] = value.convert<std::string>();
  }
  return out;
}

void logLine(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto* callbacks = static_cast<Callbacks*>(rd_kafka_opaque(rk));
  if (!callbacks) return;
  Poco::Logger* logger = &callbacks->logger;
  std::string line = std::string("librdkafka ") + facility + ": " + message;
  // syslog levels: 0..3 errors, 4 warning, 5..6 notice/info, 7 debug.
  if (level <= 3) {
    logger->error(line);
  } else if (level == 4) {
    logger->warning(line);
  } else if (level <= 6) {
    logger->information(line);
  } else {
    logger->debug(line);
  }
}

rd_kafka_conf_t* build(const etl::Config& config, const Settings& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  try {
    for (const auto& [k, v] : settings.defaults) set(conf, k, v);
    set(conf, "bootstrap.servers", config.getString("brokers"));
    auto user = properties(config);
    for (const auto& [k, v] : user) {
      auto forced = settings.forced.find(k);
      if (forced != settings.forced.end() && forced->second != v) {
        throw std::runtime_error("properties: " + k + " is set by this plugin to " +
                                 forced->second + " (its guarantees depend on it)");
      }
      set(conf, k, v);
    }
    for (const auto& [k, v] : settings.forced) set(conf, k, v);
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  return conf;
}

}  // namespace

rd_kafka_conf_t* makeConf(const etl::Config& config, const Settings& settings,
                          Callbacks& callbacks) {
  rd_kafka_conf_t* conf = build(config, settings);
  rd_kafka_conf_set_opaque(conf, &callbacks);
  rd_kafka_conf_set_log_cb(conf, logLine);
  return conf;
}

void checkProperties(const etl::Config& config, const Settings& settings) {
  rd_kafka_conf_destroy(build(config, settings));
}

Handle makeHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof error);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("cannot create the Kafka client: ") + error);
  }
  return Handle(rk);
}

std::string partName(const std::string& topic, int32_t partition) {
  return topic + "/" + std::to_string(partition);
}

void throwIf(rd_kafka_error_t* error, const std::string& what) {
  if (!error) return;
  std::string message = what + ": " + rd_kafka_error_string(error);
  bool fatal = rd_kafka_error_is_fatal(error);
  rd_kafka_error_destroy(error);
  if (fatal) throw std::runtime_error(message + " (fatal: restart the pipeline)");
  throw etl::RetryableError(message);
}

}  // namespace kafka
