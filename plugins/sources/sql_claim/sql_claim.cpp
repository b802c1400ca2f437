// sql_claim: a work queue that is a table. Claims rows that are due (a ready status, and the due
// time passed; or claimed by a process that died: older than `lease`) so that two processes never
// take the same row, and emits one record per claim: a JSON object of the chosen columns. Whoever
// does the work writes each row's outcome (the sql sink, mode: update). The queue's state lives in
// the table, so this source has no checkpoint of its own.
#include "claim_queue.h"
#include "etl/sdk.h"

namespace {

class SqlClaim : public etl::Source {
 public:
  SqlClaim(const etl::Config& config, etl::Context& context)
      : context_(context),
        stream_(config.getString("stream")),
        lease_(config.getDuration("lease")),
        pollInterval_(config.getDuration("poll_interval")),
        reportInterval_(config.getDuration("report_interval")) {
    sql::ClaimSpec spec;
    spec.table = config.getString("table");
    spec.key = config.getString("key");
    spec.columns = config.getStringList("columns");
    spec.status = config.getString("status");
    spec.ready = config.getStringList("ready");
    spec.claimed = config.getString("claimed");
    spec.due = config.has("due") ? config.getString("due") : "";
    spec.claimedAt = config.getString("claimed_at");
    spec.answerTimeout = config.getDuration("answer_timeout");
    queue_ = sql::makeClaimQueue(config.getConnection("connection").uri, context.stateDir,
                                 std::move(spec), context.logger);
  }

  static void check(const etl::Config& config) {
    if (config.getStringList("ready").empty()) {
      throw std::runtime_error(config.location("ready") + ": 'ready' needs at least one status");
    }
    if (config.getStringList("columns").empty()) {
      throw std::runtime_error(config.location("columns") + ": 'columns' needs at least one");
    }
  }

  void open(const std::string&) override { report(); }

  Poll poll(std::vector<etl::Record>& out, std::size_t maxRecords) override {
    etl::TimePoint now = context_.clock.now();
    if (now >= nextReport_) report();
    auto claims = queue_->claim(etl::isoTime(now), etl::isoTime(now - lease_),
                                static_cast<int64_t>(maxRecords));
    for (auto& json : claims) out.emplace_back(stream_, std::move(json));
    context_.metrics.counter(context_.pipeline + ".claimed")
        .fetch_add(static_cast<int64_t>(claims.size()));
    if (!claims.empty()) return {Status::More, {}};
    return {Status::Idle, now + pollInterval_};
  }

  std::string checkpoint() const override { return {}; }

 private:
  void report() {
    auto counts = queue_->counts();
    std::string line = "queue:";
    for (const auto& [status, n] : counts) {
      line += " " + status + " " + std::to_string(n) + ",";
      context_.metrics.gauge("queue_rows", {{"pipeline", context_.pipeline}, {"status", status}})
          .store(n);
    }
    if (line.back() == ',') line.pop_back();
    context_.logger.information(line);
    nextReport_ = context_.clock.now() + reportInterval_;
  }

  etl::Context& context_;
  std::string stream_;
  etl::Millis lease_, pollInterval_, reportInterval_;
  std::unique_ptr<sql::ClaimQueue> queue_;
  etl::TimePoint nextReport_{};
};

const etl::ConfigField kSchema[] = {
    {"connection", etl::Type::Connection, etl::Required, nullptr,
     "the database holding the queue table (a name under connections:)"},
    {"table", etl::Type::String, etl::Required, nullptr, "the queue table"},
    {"key", etl::Type::String, etl::Required, nullptr, "its key column (claims come in its order)"},
    {"columns", etl::Type::StringList, etl::Required, nullptr,
     "the columns each claim's record holds, as a JSON object (numbers stay numbers)"},
    {"status", etl::Type::String, etl::Optional, "status", "the status column"},
    {"ready", etl::Type::StringList, etl::Optional, "[pending]",
     "statuses ready for work; the first is the fresh one: due at once when `due` is NULL, the "
     "others only once `due` has passed (a NULL there means never: a final failure)"},
    {"claimed", etl::Type::String, etl::Optional, "in_progress", "the status a claim sets"},
    {"due", etl::Type::String, etl::Optional, nullptr,
     "a time column: a ready row waits until it has passed (retries with backoff)"},
    {"claimed_at", etl::Type::String, etl::Optional, "claimed_at",
     "the time column a claim sets, for the lease"},
    {"lease", etl::Type::Duration, etl::Optional, "5m",
     "a claim older than this is taken back (its process died)", "1s"},
    {"stream", etl::Type::String, etl::Optional, "claims", "stream of the claims"},
    {"poll_interval", etl::Type::Duration, etl::Optional, "10s", "wait when nothing is due",
     "100ms", "1h"},
    {"report_interval", etl::Type::Duration, etl::Optional, "5m",
     "how often the queue's counts per status are logged", "1s"},
    {"answer_timeout", etl::Type::Duration, etl::Optional, "1m",
     "PostgreSQL and MariaDB/MySQL: how long one claim may wait for the server's answer; past it "
     "the connection is dropped and the claim retried (a frozen server, a network cut)",
     "100ms"},
    {}};

}  // namespace

ETL_PLUGIN(SqlClaim, "sql_claim", etl::Kind::Source, "1.0.0",
           "A table as a work queue: claims due rows (SKIP LOCKED, a lease for crashed claimers)",
           kSchema)
