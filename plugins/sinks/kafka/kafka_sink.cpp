// kafka: records into a Kafka topic, through librdkafka's idempotent producer. A message's key is
// the record's key (or the field `key` names), so one event always lands in one partition; its
// headers carry the stream name. A batch counts as written only once every message of it is
// confirmed by a delivery report; a message the broker refuses for what it is (too large) becomes
// a dead letter, anything else is retried.
//
// At least once by default: a batch retried after a broken connection may send again what was
// already delivered. With exactly_once: true the batch and the pipeline's checkpoint go in one
// Kafka transaction (the checkpoint as a message keyed by the transactional id in
// checkpoint_topic, partition 0): a read_committed consumer sees each batch once, and a restart
// resumes from the last committed transaction (starting fences any older producer of that id).
#include <cstring>
#include <random>
#include <vector>

#include "etl/sdk.h"
#include "kafka_client.h"

namespace {

class KafkaSink : public etl::Sink, private kafka::Callbacks {
 public:
  static constexpr const char* kIdentity[] = {"topic", nullptr};  // the topic it writes

  KafkaSink(const etl::Config& config, etl::Context& context)
      : Callbacks(context.logger),
        config_(config),
        context_(context),
        topic_(config.getString("topic")),
        keyPath_(config.getString("key")),
        exactlyOnce_(config.getBool("exactly_once")),
        checkpointTopic_(config.getString("checkpoint_topic")),
        timeout_(config.getDuration("timeout")),
        transactionalId_(config.getString("transactional_id").empty()
                             ? "etlrun." + context.pipeline
                             : config.getString("transactional_id")),
        queueDepth_(
            context.metrics.gauge("kafka_producer_queue", {{"pipeline", context.pipeline}})),
        deliveryErrors_(context.metrics.counter(
            "kafka_delivery_errors", {{"pipeline", context.pipeline}, {"topic", topic_}})) {
    rd_kafka_conf_t* conf =
        kafka::makeConf(config, settings(exactlyOnce_, transactionalId_), *this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::delivered);
    producer_ = kafka::makeHandle(RD_KAFKA_PRODUCER, conf);
  }

  ~KafkaSink() override {
    // Nothing is outstanding after write() returns; an open transaction is aborted by the
    // broker's timeout or fenced by the next start.
    rd_kafka_flush(producer_.get(), 1000);
  }

  static void check(const etl::Config& config) {
    kafka::checkProperties(config, settings(config.getBool("exactly_once"), "check"));
  }

  bool commitsCheckpoints() const override { return exactlyOnce_; }

  CheckpointLocation checkpointLocation() const override {
    return {"topic " + checkpointTopic_ + " (partition 0, key " + transactionalId_ + ")",
            "produce a tombstone (key " + transactionalId_ + ", no value) to " + checkpointTopic_ +
                " partition 0, or set another transactional_id"};
  }

  // The value of the last committed checkpoint message keyed by our transactional id. Starting the
  // transactions first fences an older producer of the id and settles its open transaction, so
  // what read_committed shows next is final.
  std::string committedCheckpoint() override {
    startTransactions();
    rd_kafka_conf_t* conf = kafka::makeConf(
        config_,
        {{},
         {{"isolation.level", "read_committed"},
          {"group.id", transactionalId_ + ".checkpoint"},  // assign() wants one; never joined
          {"enable.partition.eof", "true"},
          {"enable.auto.commit", "false"}}},
        *this);
    kafka::Handle reader = kafka::makeHandle(RD_KAFKA_CONSUMER, conf);
    // Where it ends, first: an empty or missing topic has nothing to wait for.
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t ends = rd_kafka_query_watermark_offsets(
        reader.get(), checkpointTopic_.c_str(), 0, &low, &high, timeoutMs());
    if (ends == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (!ends && high <= low)) {
      return {};  // nothing was ever committed
    }
    if (ends) {
      throw etl::RetryableError("reading " + checkpointTopic_ + ": " + rd_kafka_err2str(ends));
    }
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), checkpointTopic_.c_str(), 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_resp_err_t err = rd_kafka_assign(reader.get(), list.get())) {
      throw etl::RetryableError("reading " + checkpointTopic_ + ": " + rd_kafka_err2str(err));
    }
    std::string found;
    bool seen = false;
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw etl::RetryableError("reading " + checkpointTopic_ + ": no answer within " +
                                  std::to_string(timeout_.count()) + " ms");
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.get(), 200);
      if (!m) continue;
      rd_kafka_resp_err_t err = m->err;
      if (!err && m->key && m->key_len == transactionalId_.size() &&
          std::memcmp(m->key, transactionalId_.data(), m->key_len) == 0) {
        // A tombstone resets: the next batch starts from the beginning.
        seen = m->payload != nullptr;
        found = seen ? std::string(static_cast<const char*>(m->payload), m->len) : "";
      }
      rd_kafka_message_destroy(m);
      if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
      if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        break;  // no checkpoint topic yet: nothing was ever committed
      }
      if (err)
        context_.logger.warning("reading " + checkpointTopic_ + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_consumer_close(reader.get());
    if (seen && found.empty()) {
      throw etl::CheckpointError("the checkpoint message is empty");
    }
    return found;
  }

  void write(etl::Batch& batch) override {
    if (exactlyOnce_) {
      startTransactions();
      if (inTransaction_) abort();
      kafka::throwIf(rd_kafka_begin_transaction(producer_.get()), "beginning a transaction");
      inTransaction_ = true;
    }
    ++batches_;
    produceAll(batch);
    awaitDeliveries(batch);
    if (exactlyOnce_) {
      // Only once every record is confirmed: the checkpoint message then never stands in the log
      // without all of its batch, even where transaction markers are not honoured.
      if (!batch.checkpoint.empty()) {
        produceCheckpoint(batch.checkpoint);
        awaitDeliveries(batch);
      }
      batch.turn->wait();  // one writer: at once
      commit();
    }
    queueDepth_.store(rd_kafka_outq_len(producer_.get()));
  }

 private:
  static kafka::Settings settings(bool exactlyOnce, const std::string& transactionalId) {
    kafka::Settings s;
    s.defaults = {{"linger.ms", "5"}, {"compression.type", "lz4"}};
    // Idempotence: librdkafka's retries never duplicate or reorder a message within a session.
    s.forced = {{"enable.idempotence", "true"}};
    if (exactlyOnce) s.forced["transactional.id"] = transactionalId;
    return s;
  }

  void startTransactions() {
    if (!exactlyOnce_ || transactionsStarted_) return;
    kafka::throwIf(rd_kafka_init_transactions(producer_.get(), timeoutMs()),
                   "starting transactions (transactional.id " + transactionalId_ + ")");
    transactionsStarted_ = true;
  }

  int timeoutMs() const { return static_cast<int>(timeout_.count()); }

  // Each record becomes a message; a message librdkafka refuses outright (too large for
  // message.max.bytes) is a dead letter, and the rest of the batch goes on.
  void produceAll(etl::Batch& batch) {
    outcome_.assign(batch.records.size(), Outcome::Pending);
    errors_.assign(batch.records.size(), {});
    batchTag_ = transactionalId_ + ":" + session_ + ":" + std::to_string(batches_);
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      const etl::Record& record = batch.records[i];
      std::string key = record.key();
      if (!keyPath_.empty()) {
        try {
          auto field = record.text(keyPath_);
          if (!field) throw etl::FieldError("no field '" + keyPath_ + "' for the message key");
          key = *field;
        } catch (const etl::FieldError& e) {
          outcome_[i] = Outcome::Refused;
          errors_[i] = e.what();
          continue;
        }
      }
      for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
            RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(record.raw().data()), record.raw().size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("stream", record.stream().data(),
                              static_cast<ssize_t>(record.stream().size())),
            RD_KAFKA_V_HEADER("etl-batch", batchTag_.data(),
                              static_cast<ssize_t>(batchTag_.size())),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i + 1)), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(producer_.get(), 50);  // delivery reports make room
          continue;
        }
        if (err) {
          outcome_[i] = Outcome::Refused;
          errors_[i] = std::string("Kafka refused the message: ") + rd_kafka_err2str(err);
        }
        break;
      }
    }
  }

  void produceCheckpoint(const std::string& checkpoint) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(checkpointTopic_.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(transactionalId_.data(), transactionalId_.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(checkpoint.data()), checkpoint.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("etl-batch", batchTag_.data(), static_cast<ssize_t>(batchTag_.size())),
        RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END);
    if (err) {
      throw etl::RetryableError("producing the checkpoint to " + checkpointTopic_ + ": " +
                                rd_kafka_err2str(err));
    }
  }

  // Waits for every delivery report: a message in librdkafka's queue is never left behind to
  // arrive after a retry has sent it again. A stop purges what is not sent yet.
  void awaitDeliveries(etl::Batch& batch) {
    while (rd_kafka_outq_len(producer_.get()) > 0) {
      if (context_.stop.requested()) {
        rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(producer_.get(), timeoutMs());
        if (exactlyOnce_) abort();
        throw etl::RetryableError(
            "stopping: the batch is not confirmed and is sent again on the "
            "next start");
      }
      rd_kafka_flush(producer_.get(), 200);
    }
    std::string failure;
    std::size_t failed = 0;
    for (std::size_t i = 0; i < outcome_.size(); ++i) {
      if (outcome_[i] == Outcome::Failed) {
        ++failed;
        if (failure.empty()) failure = errors_[i];
      }
    }
    if (checkpointError_) {
      failure =
          "the checkpoint was not delivered to " + checkpointTopic_ + ": " + checkpointFailure_;
      ++failed;
      checkpointError_ = false;
    } else if (failed > 0) {
      failure = std::to_string(failed) + " message(s) not delivered to " + topic_ + ": " + failure;
    }
    if (failed > 0) {
      deliveryErrors_.fetch_add(static_cast<int64_t>(failed));
      if (exactlyOnce_) abort();
      throw etl::RetryableError(failure);
    }
    // Refused before sending (or by the broker for what they are): dead letters, from the last
    // index down so that the indexes of the others stay valid.
    for (std::size_t i = outcome_.size(); i-- > 0;) {
      if (outcome_[i] != Outcome::Refused) continue;
      batch.reject(batch.records[i], errors_[i]);
      batch.records.erase(batch.records.begin() + static_cast<std::ptrdiff_t>(i));
    }
    outcome_.clear();  // reported: a second wait (for the checkpoint) has no records to report
  }

  void commit() {
    for (int attempt = 1;; ++attempt) {
      rd_kafka_error_t* error = rd_kafka_commit_transaction(producer_.get(), timeoutMs());
      if (!error) {
        inTransaction_ = false;
        return;
      }
      if (rd_kafka_error_is_retriable(error) && attempt < 3) {
        rd_kafka_error_destroy(error);
        continue;  // the outcome is not known yet: asking again is safe
      }
      if (rd_kafka_error_txn_requires_abort(error)) {
        std::string what = rd_kafka_error_string(error);
        rd_kafka_error_destroy(error);
        abort();
        throw etl::RetryableError("the transaction was aborted: " + what);
      }
      kafka::throwIf(error, "committing the transaction");
    }
  }

  void abort() {
    kafka::throwIf(rd_kafka_abort_transaction(producer_.get(), timeoutMs()),
                   "aborting the transaction");
    inTransaction_ = false;
  }

  // librdkafka calls this from rd_kafka_poll/flush on the writing thread.
  static void delivered(rd_kafka_t* rk, const rd_kafka_message_t* m, void*) {
    auto* self = static_cast<KafkaSink*>(static_cast<kafka::Callbacks*>(rd_kafka_opaque(rk)));
    auto index = reinterpret_cast<std::size_t>(m->_private);
    if (index == 0) {  // the checkpoint message
      if (m->err) {
        self->checkpointError_ = true;
        self->checkpointFailure_ = rd_kafka_err2str(m->err);
      }
      return;
    }
    --index;
    if (index >= self->outcome_.size()) return;
    if (!m->err) {
      self->outcome_[index] = Outcome::Delivered;
    } else if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
               m->err == RD_KAFKA_RESP_ERR_INVALID_MSG ||
               m->err == RD_KAFKA_RESP_ERR_INVALID_RECORD) {
      self->outcome_[index] = Outcome::Refused;  // the same message would be refused again
      self->errors_[index] =
          std::string("the broker refused the message: ") + rd_kafka_err2str(m->err);
    } else {
      self->outcome_[index] = Outcome::Failed;
      self->errors_[index] = rd_kafka_err2str(m->err);
    }
  }

  enum class Outcome { Pending, Delivered, Failed, Refused };

  const etl::Config config_;
  etl::Context& context_;
  const std::string topic_, keyPath_;
  const bool exactlyOnce_;
  const std::string checkpointTopic_;
  const std::chrono::milliseconds timeout_;
  const std::string transactionalId_;
  std::atomic<int64_t>& queueDepth_;
  std::atomic<int64_t>& deliveryErrors_;
  kafka::Handle producer_;
  bool transactionsStarted_ = false, inTransaction_ = false;
  // "etl-batch" header: transactional id, this process' session, batch number: ties a message to
  // the checkpoint message of its transaction.
  const std::string session_ = std::to_string(std::random_device{}());
  uint64_t batches_ = 0;
  std::string batchTag_;
  std::vector<Outcome> outcome_;  // per record of the batch being written
  std::vector<std::string> errors_;
  bool checkpointError_ = false;
  std::string checkpointFailure_;
};

const etl::ConfigField kSchema[] = {
    {"brokers", etl::Type::String, etl::Required, nullptr, kafka::kBrokersHelp},
    {"topic", etl::Type::String, etl::Required, nullptr, "the topic every record goes to"},
    {"key", etl::Type::String, etl::Optional, "",
     "a dotted path of the record whose value keys the message (e.g. id); default: the record's "
     "own key. A record without it is a dead letter"},
    {"exactly_once", etl::Type::Bool, etl::Optional, "false",
     "one Kafka transaction per batch with the pipeline's checkpoint in it: read_committed "
     "consumers see each record once, across kill -9; otherwise at least once"},
    {"transactional_id", etl::Type::String, etl::Optional, "",
     "exactly_once: the producer's transactional.id, one per pipeline instance (default "
     "etlrun.<pipeline>)"},
    {"checkpoint_topic", etl::Type::String, etl::Optional, "etlrun-checkpoints",
     "exactly_once: where checkpoints are committed (partition 0, keyed by transactional_id); "
     "create it compacted (cleanup.policy=compact)"},
    {"timeout", etl::Type::Duration, etl::Optional, "30s",
     "how long starting, committing or reading the checkpoint may take before it is retried",
     "100ms", "1h"},
    {"properties", etl::Type::Document, etl::Optional, nullptr, kafka::kPropertiesHelp},
    {}};

}  // namespace

ETL_PLUGIN(KafkaSink, "kafka", etl::Kind::Sink, "1.0.0",
           "Records into a Kafka topic (idempotent producer); exactly once with transactions",
           kSchema)
