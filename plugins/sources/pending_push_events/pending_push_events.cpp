// pending_push_events: the enrichment work queue. Claims push events whose enrichment is due
// (pending, failed and due for a retry, or claimed by a process that died: older than `lease`)
// so that two processes never take the same row, and emits one record per claim. The queue's
// state lives in the database, so this source has no checkpoint of its own.
#include "etl/sdk.h"
#include "store.h"

namespace {

class PendingPushEvents : public etl::Source {
 public:
  PendingPushEvents(const etl::Config& config, etl::Context& context)
      : context_(context),
        store_(
            store::openStore(config.getConnection("connection"), context.stateDir, context.logger)),
        stream_(config.getString("stream")),
        lease_(config.getDuration("lease")),
        pollInterval_(config.getDuration("poll_interval")),
        reportInterval_(config.getDuration("report_interval")) {}

  void open(const std::string&) override { report(); }

  Poll poll(std::vector<etl::Record>& out, std::size_t maxRecords) override {
    etl::TimePoint now = context_.clock.now();
    if (now >= nextReport_) report();
    auto claims = store_->claim(etl::isoTime(now), etl::isoTime(now - lease_),
                                static_cast<int64_t>(maxRecords));
    for (const auto& c : claims) {
      std::string json = "{\"push_id\":" + std::to_string(c.pushId) +
                         ",\"actor_id\":" + std::to_string(c.actorId) + ",\"actor_login\":";
      etl::appendJsonString(json, c.actorLogin);
      json += ",\"repository_id\":" + std::to_string(c.repositoryId) + ",\"repo_name\":";
      etl::appendJsonString(json, c.repoName);
      json += ",\"attempts\":" + std::to_string(c.attempts) + "}";
      out.emplace_back(stream_, std::move(json), std::to_string(c.pushId));
    }
    context_.metrics.counter(context_.pipeline + ".claimed")
        .fetch_add(static_cast<int64_t>(claims.size()));
    if (!claims.empty()) return {Status::More, {}};
    return {Status::Idle, now + pollInterval_};
  }

  std::string checkpoint() const override { return {}; }

 private:
  void report() {
    auto counts = store_->enrichmentCounts();
    std::string line = "enrichment queue:";
    for (const char* status : {"pending", "in_progress", "completed", "failed", "gone"}) {
      int64_t n = counts.count(status) ? counts[status] : 0;
      line += std::string(" ") + status + " " + std::to_string(n) + ",";
      context_.metrics.counter(context_.pipeline + ".queue_" + status).store(n);
    }
    line.pop_back();
    context_.logger.information(line);
    nextReport_ = context_.clock.now() + reportInterval_;
  }

  etl::Context& context_;
  std::unique_ptr<store::Store> store_;
  std::string stream_;
  etl::Millis lease_, pollInterval_, reportInterval_;
  etl::TimePoint nextReport_{};
};

const etl::ConfigField kSchema[] = {
    {"connection", etl::Type::Connection, etl::Required, nullptr,
     "the database holding push_events (a name under connections:)"},
    {"stream", etl::Type::String, etl::Optional, "enrichment_claims", "stream of the claims"},
    {"lease", etl::Type::Duration, etl::Optional, "5m",
     "a claim older than this is taken back (its process died)", "1s"},
    {"poll_interval", etl::Type::Duration, etl::Optional, "10s", "wait when nothing is due",
     "100ms", "1h"},
    {"report_interval", etl::Type::Duration, etl::Optional, "5m",
     "how often the queue's counts are logged", "1s"},
    {}};

}  // namespace

ETL_PLUGIN(PendingPushEvents, "pending_push_events", etl::Kind::Source, "1.0.0",
           "Claims push events due for enrichment (SKIP LOCKED, lease for crashed claimers)",
           kSchema)
