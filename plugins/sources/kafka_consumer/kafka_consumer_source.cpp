// kafka_consumer: a member of a Kafka consumer group. The group assigns it partitions of `topics`
// (cooperative-sticky by default: a rebalance moves only the partitions that change hands) and
// takes them away again; each message is a record of the topic's stream, keyed by the message key.
//
// Positions are a partitioned checkpoint ({"topic/partition": next offset}): with a sink that
// commits checkpoints (sql), each partition's offset is stored in the sink's own transaction, so
// N processes in one group storing into one database store each message exactly once; a process
// given a partition seeks to the offset the database holds for it. With any other sink, offsets are
// committed to Kafka after the sink has stored the batch: at least once. Either way, a partition
// is released only after every batch read from it is committed (Source::Status::Sync), and
// offsets are committed to the group too, so Kafka's own tools see the lag.
#include <Poco/JSON/Parser.h>

#include <map>
#include <optional>
#include <set>

#include "etl/sdk.h"
#include "kafka_client.h"

namespace {

using Partition = std::pair<std::string, int32_t>;

class KafkaConsumerSource : public etl::Source, private kafka::Callbacks {
 public:
  KafkaConsumerSource(const etl::Config& config, etl::Context& context)
      : Callbacks(context.logger),
        context_(context),
        topics_(config.getStringList("topics")),
        stream_(config.getString("stream")),
        group_(config.getString("group")),
        joinTimeout_(config.getDuration("join_timeout")) {
    rd_kafka_conf_t* conf = kafka::makeConf(config, settings(config), *this);
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaConsumerSource::rebalanced);
    consumer_ = kafka::makeHandle(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(consumer_.get());
  }

  ~KafkaConsumerSource() override {
    // Leaving the group hands the partitions over at once, not after the session times out. The
    // runner has committed everything by now, so the revocation inside close is applied at once.
    closing_ = true;
    // Stopped during a hand-over: librdkafka waits for the event to be applied before it can
    // leave the group. Applied now without positions (close revokes them again at once).
    if (rebalance_) {
      Rebalance event = std::move(*rebalance_);
      rebalance_.reset();
      try {
        if (event.err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
          revoke(event.partitions.get(), event.lost, durable_);
        } else if (cooperative_) {
          kafka::throwIf(rd_kafka_incremental_assign(consumer_.get(), event.partitions.get()),
                         "assigning");
        } else {
          rd_kafka_assign(consumer_.get(), event.partitions.get());
        }
      } catch (const std::exception& e) {
        context_.logger.warning(std::string("leaving the group: ") + e.what());
      }
    }
    rd_kafka_consumer_close(consumer_.get());
    // librdkafka before 2.3.0 (Debian 12 has 2.0.2) aborts in rd_kafka_destroy when a member of
    // a cooperative-sticky group never received an assignment (its assignor state is still NULL:
    // librdkafka issue 4312). The group is left already; the handle is let go with the process.
    if (!assigned_) (void)consumer_.release();
  }

  static void check(const etl::Config& config) { kafka::checkProperties(config, settings(config)); }

  bool partitionedCheckpoint() const override { return true; }

  // The group decides what this process reads; a stored position is applied when a partition is
  // assigned (synced), so the checkpoint the runner read at start is not needed here.
  void open(const std::string&) override {
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size())));
    for (const auto& t : topics_) {
      rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), list.get())) {
      throw std::runtime_error(std::string("subscribing: ") + rd_kafka_err2str(err));
    }
    waitingSince_ = std::chrono::steady_clock::now();
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t maxRecords) override {
    std::size_t before = out.size();
    while (out.size() - before < maxRecords) {
      // Wait a little for the first message, not at all for the next ones.
      rd_kafka_message_t* m =
          rd_kafka_consumer_poll(consumer_.get(), out.size() > before ? 0 : 200);
      if (m) take(m, out);  // the assignment has not changed yet: still ours
      if (rebalance_) return {Status::Sync, {}};
      if (!m) break;
    }
    reportLag();
    if (!assigned_ && out.size() == before) {
      // A group that never forms (brokers unreachable, its coordinator down) must not wait in
      // silence: past join_timeout every poll is a retryable failure, which the runner logs and
      // backs off from (each try still serves the group), and which ends a --once run after
      // retry.give_up_after.
      if (std::chrono::steady_clock::now() - waitingSince_ >= joinTimeout_) {
        throw etl::RetryableError(
            "no partition assigned after " + std::to_string(joinTimeout_.count() / 1000) +
            " s: the group '" + group_ +
            "' has not formed (are the brokers reachable, is the group's coordinator up?)");
      }
    }
    // Caught up: every assigned partition reached its end (what --once waits for); a member the
    // group gave no partition (more members than partitions) has nothing to read either.
    if (out.size() == before && assigned_ && atEnd_.size() == positions_.size()) {
      return {Status::Idle, context_.clock.now()};
    }
    return {Status::More, {}};
  }

  void take(rd_kafka_message_t* m, std::vector<etl::Record>& out) {
    if (m->err) {
      handleError(m);
      return;
    }
    std::string topic = rd_kafka_topic_name(m->rkt);
    auto owned = positions_.find({topic, m->partition});
    if (owned != positions_.end()) {  // else a message of a partition no longer ours
      owned->second = m->offset + 1;
      atEnd_.erase(owned->first);
      // A tombstone (no payload) is an empty record: the sink dead-letters it, with its key.
      std::string bytes;
      bytes.reserve(m->len + etl::Record::kPadding);  // adopted by the record as it is
      if (m->payload) bytes.assign(static_cast<const char*>(m->payload), m->len);
      std::string key = m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : "";
      out.emplace_back(stream_.empty() ? topic : stream_, std::move(bytes), std::move(key));
    }
    rd_kafka_message_destroy(m);
  }

  std::string checkpoint() const override {
    std::string out = "{";
    for (const auto& [partition, next] : positions_) {
      if (next < 0) continue;  // nothing read from it yet: its stored position stands
      if (out.size() > 1) out += ',';
      etl::appendJsonString(out, kafka::partName(partition.first, partition.second));
      out += ':' + std::to_string(next);
    }
    return out + "}";
  }

  // Everything read so far is committed: now the partitions can change hands.
  void synced(const std::optional<std::string>& stored) override {
    if (!rebalance_) return;
    auto event = std::move(*rebalance_);
    rebalance_.reset();
    if (event.err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      assign(event.partitions.get(), stored);
    } else if (event.err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      // Everything read is committed: what the source holds now is durable.
      revoke(event.partitions.get(), event.lost, checkpoint());
    } else {
      context_.logger.warning(std::string("rebalance failed: ") + rd_kafka_err2str(event.err));
      positions_.clear();
      atEnd_.clear();
      if (cooperative_) {
        kafka::throwIf(rd_kafka_incremental_unassign(consumer_.get(), event.partitions.get()),
                       "unassigning");
      } else {
        rd_kafka_assign(consumer_.get(), nullptr);
      }
    }
  }

  // The sink stored these positions: the group's committed offsets follow (asynchronously), for
  // at-least-once sinks the only record of them, for the others what Kafka's tools show as lag.
  void committed(const std::string& checkpoint) override {
    durable_ = checkpoint;
    commitOffsets(checkpoint, true);
  }

 private:
  static kafka::Settings settings(const etl::Config& config) {
    kafka::Settings s;
    s.defaults = {{"partition.assignment.strategy", "cooperative-sticky"},
                  {"auto.offset.reset", "earliest"},
                  {"isolation.level", "read_committed"}};
    // Offsets move only when the sink has stored a batch; end-of-partition events tell --once
    // when it is caught up.
    s.forced = {{"group.id", config.getString("group")},
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"enable.partition.eof", "true"}};
    return s;
  }

  struct Rebalance {
    rd_kafka_resp_err_t err;
    kafka::PartitionList partitions;
    bool lost = false;
  };

  // Called inside rd_kafka_consumer_poll (or close). The assignment changes only once everything
  // read before is committed: the event is kept, poll() returns Sync, and synced() applies it.
  static void rebalanced(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t* partitions, void*) {
    auto* self =
        static_cast<KafkaConsumerSource*>(static_cast<kafka::Callbacks*>(rd_kafka_opaque(rk)));
    Rebalance event{err, kafka::PartitionList(rd_kafka_topic_partition_list_copy(partitions)),
                    rd_kafka_assignment_lost(rk) != 0};
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) self->assigned_ = true;
    // Known only once the group has chosen its assignor.
    self->cooperative_ = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (self->closing_) {
      self->revoke(event.partitions.get(), event.lost, self->durable_);
      return;
    }
    self->rebalance_ = std::move(event);
  }

  void assign(rd_kafka_topic_partition_list_t* list, const std::optional<std::string>& stored) {
    std::map<std::string, int64_t> offsets = storedOffsets(stored);
    std::string names;
    for (int i = 0; i < list->cnt; ++i) {
      auto& p = list->elems[i];
      std::string name = kafka::partName(p.topic, p.partition);
      auto found = offsets.find(name);
      // Where the sink's transaction left it; else the group's committed offset (or
      // auto.offset.reset).
      p.offset = found != offsets.end() ? found->second : RD_KAFKA_OFFSET_INVALID;
      positions_[{p.topic, p.partition}] = -1;
      atEnd_.erase({p.topic, p.partition});
      names += (names.empty() ? "" : ", ") + name +
               (found != offsets.end() ? " from " + std::to_string(found->second) : "");
    }
    if (cooperative_) {
      kafka::throwIf(rd_kafka_incremental_assign(consumer_.get(), list), "assigning partitions");
    } else if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), list)) {
      throw etl::RetryableError(std::string("assigning partitions: ") + rd_kafka_err2str(err));
    }
    context_.logger.information("partitions assigned: " + (names.empty() ? "none" : names) +
                                (stored ? " (positions from the sink)" : ""));
  }

  // `durable`: the checkpoint whose offsets are stored (for the group's committed offsets).
  void revoke(rd_kafka_topic_partition_list_t* list, bool lost, const std::string& durable) {
    std::string names;
    for (int i = 0; i < list->cnt; ++i) {
      names += std::string(names.empty() ? "" : ", ") +
               kafka::partName(list->elems[i].topic, list->elems[i].partition);
    }
    // The group learns where they stand now, synchronously, so the next owner starts right there.
    if (!lost) commitOffsets(durable, false);
    for (int i = 0; i < list->cnt; ++i) {
      positions_.erase({list->elems[i].topic, list->elems[i].partition});
      atEnd_.erase({list->elems[i].topic, list->elems[i].partition});
    }
    if (cooperative_) {
      kafka::throwIf(rd_kafka_incremental_unassign(consumer_.get(), list), "unassigning");
    } else {
      rd_kafka_assign(consumer_.get(), nullptr);
      positions_.clear();
      atEnd_.clear();
    }
    if (lost) {
      context_.logger.warning("partitions lost (the group went on without this process): " + names);
    } else {
      context_.logger.information("partitions revoked after their batches committed: " +
                                  (names.empty() ? "none" : names));
    }
  }

  std::map<std::string, int64_t> storedOffsets(const std::optional<std::string>& stored) const {
    std::map<std::string, int64_t> out;
    if (!stored || stored->empty()) return out;
    try {
      auto object = Poco::JSON::Parser().parse(*stored).extract<Poco::JSON::Object::Ptr>();
      for (const auto& [part, value] : *object) {
        int64_t offset = value.convert<int64_t>();
        if (offset < 0) throw etl::CheckpointError("a negative offset for " + part);
        out[part] = offset;
      }
    } catch (const Poco::Exception& e) {
      throw etl::CheckpointError("the stored offsets are not {\"topic/partition\": offset}: " +
                                 e.displayText());
    }
    return out;
  }

  // Commits the offsets of `checkpoint` that belong to partitions this process still owns.
  void commitOffsets(const std::string& checkpoint, bool async) {
    std::map<std::string, int64_t> offsets = storedOffsets(checkpoint);
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [partition, next] : positions_) {
      auto found = offsets.find(kafka::partName(partition.first, partition.second));
      if (found == offsets.end()) continue;
      rd_kafka_topic_partition_list_add(list.get(), partition.first.c_str(), partition.second)
          ->offset = found->second;
    }
    if (list->cnt == 0) return;
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), async ? 1 : 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      context_.logger.warning(std::string("committing offsets to the group: ") +
                              rd_kafka_err2str(err));
    }
  }

  void handleError(rd_kafka_message_t* m) {
    rd_kafka_resp_err_t err = m->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      atEnd_.insert({rd_kafka_topic_name(m->rkt), m->partition});
      rd_kafka_message_destroy(m);
      return;
    }
    std::string what = rd_kafka_message_errstr(m);
    rd_kafka_message_destroy(m);
    char reason[512];
    if (rd_kafka_fatal_error(consumer_.get(), reason, sizeof reason)) {
      throw std::runtime_error(std::string("fatal consumer error: ") + reason);
    }
    // Transient (a broker down, a topic not created yet): librdkafka keeps trying by itself.
    context_.logger.warning("consumer: " + what);
  }

  // Per partition: messages behind the end of the log, from librdkafka's cached high watermark
  // (no request). A partition that moved to another process reports 0 here.
  void reportLag() {
    auto now = std::chrono::steady_clock::now();
    if (now - lastLag_ < std::chrono::seconds(1)) return;
    lastLag_ = now;
    std::set<Partition> seen;
    for (const auto& [partition, next] : positions_) {
      int64_t low = 0, high = 0;
      if (rd_kafka_get_watermark_offsets(consumer_.get(), partition.first.c_str(), partition.second,
                                         &low, &high) ||
          next < 0)
        continue;
      lagGauge(partition).store(std::max<int64_t>(0, high - next));
      seen.insert(partition);
    }
    for (const auto& partition : reported_) {
      if (!seen.count(partition)) lagGauge(partition).store(0);
    }
    reported_ = std::move(seen);
  }

  std::atomic<int64_t>& lagGauge(const Partition& partition) {
    return context_.metrics.gauge("kafka_consumer_lag",
                                  {{"pipeline", context_.pipeline},
                                   {"topic", partition.first},
                                   {"partition", std::to_string(partition.second)}});
  }

  etl::Context& context_;
  const std::vector<std::string> topics_;
  const std::string stream_;
  const std::string group_;
  const etl::Millis joinTimeout_;
  std::chrono::steady_clock::time_point waitingSince_{};
  kafka::Handle consumer_;
  bool cooperative_ = false;
  bool closing_ = false;
  bool assigned_ = false;  // an assignment (even an empty one) was received
  std::optional<Rebalance> rebalance_;
  std::string durable_;                     // the newest checkpoint the sink committed
  std::map<Partition, int64_t> positions_;  // owned partitions -> next offset (-1: none read)
  std::set<Partition> atEnd_;               // owned partitions at their end
  std::set<Partition> reported_;
  std::chrono::steady_clock::time_point lastLag_{};
};

const etl::ConfigField kSchema[] = {
    {"brokers", etl::Type::String, etl::Required, nullptr, kafka::kBrokersHelp},
    {"topics", etl::Type::StringList, etl::Required, nullptr, "the topics to read"},
    {"group", etl::Type::String, etl::Required, nullptr,
     "the consumer group (group.id): processes with the same group share the partitions"},
    {"stream", etl::Type::String, etl::Optional, "",
     "the stream of every record (default: its topic's name)"},
    {"join_timeout", etl::Type::Duration, etl::Optional, "60s",
     "no partition assigned for this long (the group does not form): a retryable failure, "
     "logged and retried; a --once run ends after retry.give_up_after"},
    {"properties", etl::Type::Document, etl::Optional, nullptr, kafka::kPropertiesHelp},
    {}};

}  // namespace

ETL_PLUGIN(KafkaConsumerSource, "kafka_consumer", etl::Kind::Source, "1.0.0",
           "A Kafka consumer-group member; exactly once into a sink that commits checkpoints "
           "(sql), at least once otherwise",
           kSchema)
