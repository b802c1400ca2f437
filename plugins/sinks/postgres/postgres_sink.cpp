// postgres: stores GitHub events (raw JSONB) and push_events rows exactly once, with the batch's
// dead letters and checkpoint in the same transaction. With no `connection` it writes the same
// tables to an embedded SQLite file, so a fresh machine needs no database server.
#include "etl/sdk.h"
#include "store.h"

namespace {

class PostgresSink : public etl::Sink {
 public:
  PostgresSink(const etl::Config& config, etl::Context& context)
      : context_(context),
        store_(store::openStore(config.getString("connection"), config.getString("password_env"),
                                config.has("embedded_path") ? config.getString("embedded_path")
                                                            : context.stateDir + "/etlrun.sqlite",
                                context.logger)) {
    streams_.events = config.getString("events_stream");
    streams_.pushes = config.getString("push_stream");
    if (config.getString("connection").empty()) {
      context_.logger.information(
          "no database configured (connection is empty): using the "
          "embedded store " +
          store_->describe());
    }
  }

  bool commitsCheckpoints() const override { return true; }
  bool storesDeadLetters() const override { return true; }

  std::string committedCheckpoint() override { return store_->loadCheckpoint(context_.pipeline); }

  void write(etl::Batch& batch) override {
    store::Rows rows = store::splitBatch(batch, streams_);
    for (auto& letter : batch.deadLetters) {
      if (letter.plugin.empty()) letter.plugin = context_.plugin;
      rows.deadLetters.push_back(store::deadLetterRow(letter));
    }
    store::WriteResult result =
        store_->write(context_.pipeline, context_.plugin, rows, batch.checkpoint);
    // Rows the database itself refused were dead-lettered in the transaction; report them too.
    for (const auto& [index, reason] : result.rejectedEvents) {
      batch.deadLetters.push_back(
          {etl::Record(streams_.events, *rows.events[index].raw), context_.plugin, reason});
    }
    for (const auto& [index, reason] : result.rejectedPushes) {
      batch.deadLetters.push_back(
          {etl::Record(streams_.pushes, "push_id " + std::to_string(rows.pushes[index].pushId)),
           context_.plugin, reason});
    }
    auto& m = context_.metrics;
    m.counter(context_.pipeline + ".events_stored").fetch_add(result.eventsInserted);
    m.counter(context_.pipeline + ".push_events_stored").fetch_add(result.pushesInserted);
    m.counter(context_.pipeline + ".duplicates_skipped")
        .fetch_add(static_cast<int64_t>(rows.events.size() + rows.pushes.size()) -
                   result.eventsInserted - result.pushesInserted);
  }

 private:
  etl::Context& context_;
  std::unique_ptr<store::Store> store_;
  store::Streams streams_;
};

const etl::ConfigField kSchema[] = {
    {"connection", etl::Type::String, etl::Optional, "",
     "postgresql://user@host:port/db or libpq key=value; empty: the embedded SQLite store"},
    {"password_env", etl::Type::String, etl::Optional, "PGPASSWORD",
     "environment variable holding the password (never logged)"},
    {"embedded_path", etl::Type::String, etl::Optional, nullptr,
     "SQLite file of the embedded store (default: <state_dir>/etlrun.sqlite)"},
    {"events_stream", etl::Type::String, etl::Optional, "github_events",
     "stream stored in github_events"},
    {"push_stream", etl::Type::String, etl::Optional, "push_events",
     "stream stored in push_events"},
    {}};

}  // namespace

ETL_PLUGIN(PostgresSink, "postgres", etl::Kind::Sink, "1.0.0",
           "GitHub events and push events into PostgreSQL (COPY, exactly once) or embedded SQLite",
           kSchema)
