#include "kafka_mock.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

namespace etltest {

KafkaMock::KafkaMock(int brokers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The cluster lives in this handle's background thread; the handle itself sends nothing.
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!handle_) throw std::runtime_error(std::string("kafka mock: ") + error);
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (!cluster_) throw std::runtime_error("kafka mock: cannot create the cluster");
}

KafkaMock::~KafkaMock() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_) rd_kafka_destroy(handle_);
}

std::string KafkaMock::bootstraps() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void KafkaMock::createTopic(const std::string& topic, int partitions, int replication) {
  if (rd_kafka_resp_err_t err =
          rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication)) {
    throw std::runtime_error("kafka mock: creating " + topic + ": " + rd_kafka_err2str(err));
  }
}

void KafkaMock::setBrokerDown(int32_t broker, bool down) {
  rd_kafka_resp_err_t err = down ? rd_kafka_mock_broker_set_down(cluster_, broker)
                                 : rd_kafka_mock_broker_set_up(cluster_, broker);
  if (err) throw std::runtime_error(std::string("kafka mock: ") + rd_kafka_err2str(err));
}

void KafkaMock::setLeader(const std::string& topic, int32_t partition, int32_t broker) {
  if (rd_kafka_resp_err_t err =
          rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker)) {
    throw std::runtime_error(std::string("kafka mock: ") + rd_kafka_err2str(err));
  }
}

void KafkaMock::setCoordinator(const std::string& type, const std::string& key, int32_t broker) {
  if (rd_kafka_resp_err_t err =
          rd_kafka_mock_coordinator_set(cluster_, type.c_str(), key.c_str(), broker)) {
    throw std::runtime_error(std::string("kafka mock: ") + rd_kafka_err2str(err));
  }
}

namespace {
std::string header(rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_message_headers(m, &headers) || !headers) return {};
  if (rd_kafka_header_get_last(headers, name, &value, &size)) return {};
  return std::string(static_cast<const char*>(value), size);
}
}  // namespace

std::vector<KafkaMessage> readTopic(const std::string& bootstraps, const std::string& topic) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", nullptr, 0);
  rd_kafka_conf_set(conf, "group.id", "etltest.reader", nullptr, 0);  // assign() wants one
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", nullptr, 0);
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", nullptr, 0);
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!rk) throw std::runtime_error(error);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rd_kafka_metadata(rk, 0, handle, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_destroy(handle);
    rd_kafka_destroy(rk);
    throw std::runtime_error("no metadata for " + topic);
  }
  int partitions = metadata->topic_cnt ? metadata->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(handle);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  std::set<int32_t> done;
  for (int p = 0; p < partitions; ++p) {
    // An empty partition gives no end-of-partition event.
    int64_t low = 0, high = 0;
    if (!rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000) &&
        high <= low) {
      done.insert(p);
      continue;
    }
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t assigned = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (assigned) {
    rd_kafka_destroy(rk);
    throw std::runtime_error("reading " + topic + ": " + rd_kafka_err2str(assigned));
  }
  std::vector<KafkaMessage> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (static_cast<int>(done.size()) < partitions &&
         std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      done.insert(m->partition);
    } else if (!m->err) {
      KafkaMessage message;
      message.partition = m->partition;
      message.offset = m->offset;
      message.key.assign(static_cast<const char*>(m->key), m->key_len);
      message.value.assign(static_cast<const char*>(m->payload), m->len);
      message.stream = header(m, "stream");
      message.batch = header(m, "etl-batch");
      out.push_back(std::move(message));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (static_cast<int>(done.size()) < partitions) {
    throw std::runtime_error("reading " + topic + ": not every partition reached its end");
  }
  return out;
}

void produce(const std::string& bootstraps, const std::string& topic,
             const std::vector<RawMessage>& messages) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!rk) throw std::runtime_error(error);
  for (const auto& m : messages) {
    // Computed first: the producev macros cast their arguments as a whole.
    const void* key = m.key ? m.key->data() : nullptr;
    std::size_t keySize = m.key ? m.key->size() : 0;
    void* value = m.value ? const_cast<char*>(m.value->data()) : nullptr;
    std::size_t valueSize = m.value ? m.value->size() : 0;
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key, keySize),
                          RD_KAFKA_V_VALUE(value, valueSize),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err) throw std::runtime_error(std::string("producing: ") + rd_kafka_err2str(err));
  }
  int left = rd_kafka_flush(rk, 30000) ? rd_kafka_outq_len(rk) : 0;
  rd_kafka_destroy(rk);
  if (left) throw std::runtime_error("producing: messages not delivered");
}

}  // namespace etltest
