// postgres: stores GitHub events (raw JSONB) and push_events rows exactly once, with the batch's
// dead letters and checkpoint in the same transaction. With no `connection` it writes the same
// tables to an embedded SQLite file, so a fresh machine needs no database server.
#include "etl/sdk.h"
#include "store.h"

namespace {

class PostgresSink : public etl::Sink {
 public:
  PostgresSink(const etl::Config& config, etl::Context& context)
      : context_(context), store_(store::openStore(config, context)) {
    streams_.events = config.getString("events_stream");
    streams_.pushes = config.getString("push_stream");
    streams_.actors = config.getString("actors_stream");
    streams_.repositories = config.getString("repositories_stream");
    streams_.enrichment = config.getString("enrichment_stream");
    if (config.getString("connection").empty()) {
      context_.logger.information(
          "no database configured (connection is empty): using the "
          "embedded store " +
          store_->describe());
    }
  }

  bool commitsCheckpoints() const override { return true; }
  bool storesDeadLetters() const override { return true; }

  std::string committedCheckpoint() override {
    auto checkpoint = store_->loadCheckpoint(context_.pipeline);
    if (!checkpoint) return {};
    // A checkpoint is never committed empty: an empty one was edited by hand.
    if (checkpoint->find_first_not_of(" \t\r\n") == std::string::npos) {
      throw etl::CheckpointError("the stored checkpoint is empty");
    }
    return *checkpoint;
  }

  CheckpointLocation checkpointLocation() const override {
    std::string reset = "DELETE FROM etl_checkpoints WHERE pipeline = '" + context_.pipeline + "'";
    std::string where = store_->describe();
    if (where.rfind("sqlite:", 0) == 0)
      reset = "run: sqlite3 " + where.substr(7) + " \"" + reset + "\"";
    return {"table etl_checkpoints of " + where, reset};
  }

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
          {etl::Record(streams_.pushes, *rows.pushes[index].raw), context_.plugin, reason});
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
    store::kConnectionKey,
    store::kPasswordEnvKey,
    store::kEmbeddedPathKey,
    {"events_stream", etl::Type::String, etl::Optional, "github_events",
     "stream stored in github_events"},
    {"push_stream", etl::Type::String, etl::Optional, "push_events",
     "stream stored in push_events"},
    {"actors_stream", etl::Type::String, etl::Optional, "actors", "stream upserted into actors"},
    {"repositories_stream", etl::Type::String, etl::Optional, "repositories",
     "stream upserted into repositories"},
    {"enrichment_stream", etl::Type::String, etl::Optional, "push_enrichment",
     "stream of enrichment outcomes, applied to push_events"},
    {}};

}  // namespace

ETL_PLUGIN(PostgresSink, "postgres", etl::Kind::Sink, "1.0.0",
           "GitHub events, push events and enrichment into PostgreSQL (COPY, exactly once) or "
           "embedded SQLite",
           kSchema)
