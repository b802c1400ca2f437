// librdkafka's mock Kafka cluster for tests: the real protocol on real TCP sockets on 127.0.0.1,
// several brokers, consumer groups and transactions, no JVM. Real etlrun processes connect to
// bootstraps(). Limits of the mock in librdkafka 2.0.2 (Debian 12): it writes no transaction
// markers, so a read_committed consumer also sees messages of aborted transactions; and it has no
// CreateTopics (topics are created here, or automatically on first use).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace etltest {

class KafkaMock {
 public:
  explicit KafkaMock(int brokers = 3);
  ~KafkaMock();
  KafkaMock(const KafkaMock&) = delete;
  KafkaMock& operator=(const KafkaMock&) = delete;

  std::string bootstraps() const;
  void createTopic(const std::string& topic, int partitions, int replication = 3);
  // A broker that is down refuses connections and drops the ones it had, as a crashed one does.
  void setBrokerDown(int32_t broker, bool down);
  void setLeader(const std::string& topic, int32_t partition, int32_t broker);
  // The coordinator of a group ("group") or transactional id ("transaction") `key`.
  void setCoordinator(const std::string& type, const std::string& key, int32_t broker);

 private:
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
};

// Every message of `topic` from the beginning to the current end (a consumer without a group).
struct KafkaMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key, value;
  std::string stream, batch;  // the headers etlrun's kafka sink sets ("" when absent)
};
std::vector<KafkaMessage> readTopic(const std::string& bootstraps, const std::string& topic);

// Produces messages as any client could (nullopt: a NULL key or value, a tombstone).
struct RawMessage {
  std::optional<std::string> key, value;
};
void produce(const std::string& bootstraps, const std::string& topic,
             const std::vector<RawMessage>& messages);

}  // namespace etltest
