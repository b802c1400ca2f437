// sql: stores any stream into any table, declared in YAML: for each table the stream it takes and
// where each column's value comes from (a dotted JSON path, the whole record, its key or stream, a
// constant, the load time). PostgreSQL, SQLite or MariaDB/MySQL, chosen by the connection's URI
// (postgresql://..., sqlite:PATH, mysql://...); each value is converted and checked by its column's
// type the same way on every database (column_types.h), so timestamps, numerics, booleans and JSON
// need no C++ and mean the same everywhere. Every table's rows, the batch's dead letters and its
// checkpoint commit in one transaction: exactly once across kill -9.
#include <deque>
#include <map>
#include <memory>
#include <set>

#include "database.h"
#include "etl/sdk.h"
#include "table_mapping.h"

namespace {

class SqlSink : public etl::Sink {
 public:
  // The tables it writes, by name: a pipeline of the same name writing other tables is another
  // pipeline (etl/plugin.h).
  static constexpr const char* kIdentity[] = {"tables", nullptr};

  SqlSink(const etl::Config& config, etl::Context& context)
      : context_(context),
        tables_(sql_sink::parseTables(config, "tables")),
        dropUnmatched_(config.getString("unmatched") == "drop") {
    const auto& connection = config.getConnection("connection");
    sql::DatabaseOptions options;
    options.uri = connection.uri;
    options.stateDir = context.stateDir;
    options.migrations = connection.migrations;
    options.createTables = config.getString("create") == "auto";
    options.answerTimeout = config.getDuration("answer_timeout");
    for (std::size_t i = 0; i < tables_.size(); ++i) {
      options.tables.push_back(tables_[i].spec);
      byStream_[tables_[i].stream].push_back(i);
      if (sql_sink::validates(tables_[i])) validated_.insert(tables_[i].stream);
    }
    database_ = sql::makeDatabase(std::move(options), context.logger);
    for (const auto& t : tables_) {
      stored_.push_back(&context.metrics.counter(
          "rows_stored", {{"pipeline", context.pipeline}, {"table", t.spec.name}}));
    }
  }

  // The table mapping, checked by `etlrun validate` before anything starts.
  static void check(const etl::Config& config) { sql_sink::parseTables(config, "tables"); }

  bool commitsCheckpoints() const override { return true; }
  std::size_t maxWriters() const override { return database_->maxWriters(); }
  bool storesDeadLetters() const override { return true; }

  std::string committedCheckpoint() override {
    auto checkpoint = database_->loadCheckpoint(context_.pipeline);
    if (!checkpoint) return {};
    // A checkpoint is never committed empty: an empty one was edited by hand.
    if (checkpoint->find_first_not_of(" \t\r\n") == std::string::npos) {
      throw etl::CheckpointError("the stored checkpoint is empty");
    }
    return *checkpoint;
  }

  std::string claim(const std::string& pipeline) override { return database_->claim(pipeline); }

  CheckpointLocation checkpointLocation() const override {
    std::string reset = "DELETE FROM etl_checkpoints WHERE pipeline = '" + context_.pipeline +
                        "'; DELETE FROM etl_checkpoint_parts WHERE pipeline = '" +
                        context_.pipeline + "'";
    std::string where = database_->describe();
    return {"table etl_checkpoints of " + where, database_->dialect().byHand(reset, where)};
  }

  std::vector<etl::StoredDeadLetter> deadLetters(const etl::DeadLetterFilter& filter) override {
    return database_->deadLetters(filter);
  }
  std::size_t removeDeadLetters(const std::vector<int64_t>& ids) override {
    return database_->removeDeadLetters(ids);
  }

  // Validating and building the rows needs no connection: done here, it overlaps the writing of
  // the batch before (and reads only what the constructor set).
  void prepare(etl::Batch& batch) override { batch.prepared = build(batch); }

  void write(etl::Batch& batch) override {
    auto prepared =
        batch.prepared ? std::static_pointer_cast<const Prepared>(batch.prepared) : build(batch);
    std::vector<sql::DeadLetterRow> letters;
    for (auto& letter : batch.deadLetters) {
      if (letter.plugin.empty()) letter.plugin = context_.plugin;
      letters.push_back(sql::deadLetterRow(letter));
    }
    std::vector<etl::DeadLetter> refused;
    auto letterFor = [&](const std::vector<sql::Refusal>& unit) {
      // The unit's input: the record as read, when a transform made this one from it.
      const etl::Record& record = batch.records[prepared->origin[unit[0].table][unit[0].row]];
      std::string reason;
      for (const auto& refusal : unit) {
        reason += (reason.empty() ? "" : "; ") + std::string("table ") +
                  tables_[refusal.table].spec.name + ": " + refusal.reason;
      }
      refused.push_back({record.origin() ? *record.origin() : record, context_.plugin, reason});
      return sql::deadLetterRow(refused.back());
    };
    sql::WriteResult result =
        database_->write(prepared->rows, prepared->units, letters, context_.pipeline,
                         sql::checkpointOf(batch), letterFor, *batch.turn);
    if (result.alreadyCommitted) return;  // an earlier try stored it all, its letters included
    // Rows the database refused were dead-lettered in the transaction; the runner reports them.
    for (auto& letter : refused) batch.deadLetters.push_back(std::move(letter));
    for (std::size_t t = 0; t < tables_.size(); ++t) stored_[t]->fetch_add(result.stored[t]);
    if (prepared->unmatched) {
      context_.metrics.counter(context_.pipeline + ".unmatched_dropped")
          .fetch_add(static_cast<int64_t>(prepared->unmatched));
    }
  }

 private:
  struct Prepared {
    std::vector<std::vector<sql::Row>> rows;       // per table
    std::vector<std::vector<std::size_t>> origin;  // per table: row -> index in records
    sql::Units units;                              // per table: row -> its unit
    std::deque<std::string> values;                // what the rows view besides the records' bytes
    std::string now;                               // the load time, for value: now
    std::size_t unmatched = 0;
  };

  // Each table's rows of the batch. A record that cannot give its rows is rejected whole, and so
  // is every record made from the same input (Record::origin): one unit, all rows or none.
  std::shared_ptr<const Prepared> build(etl::Batch& batch) const {
    auto out = std::make_shared<Prepared>();
    out->now = etl::isoTime(context_.clock.now());  // kept with the rows that view it
    const std::string& now = out->now;
    const auto types = database_->columnTypes();
    const auto style = database_->dialect().valueStyle();
    std::vector<std::vector<std::pair<std::size_t, sql::Row>>> made(batch.records.size());
    std::size_t lettersBefore = batch.deadLetters.size();
    for (std::size_t r = 0; r < batch.records.size(); ++r) {
      const etl::Record& record = batch.records[r];
      auto mapped = byStream_.find(record.stream());
      if (mapped == byStream_.end()) {
        if (dropUnmatched_) {
          ++out->unmatched;
        } else {
          batch.reject(record, "no table for stream '" + record.stream() + "'");
        }
        continue;
      }
      try {
        // Validated once, first: the document then serves every lookup (one parse a record).
        if (validated_.count(record.stream())) {
          std::string invalid = record.jsonError();
          if (!invalid.empty()) throw etl::FieldError("invalid JSON: " + invalid);
        }
        for (std::size_t t : mapped->second) {
          if (sql_sink::matches(tables_[t], record)) {
            made[r].emplace_back(
                t, sql_sink::rowOf(tables_[t], record, now, types[t], style, out->values));
          }
        }
      } catch (const etl::FieldError& e) {
        made[r].clear();
        batch.reject(record, e.what());
        continue;
      }
      if (made[r].empty()) {
        if (dropUnmatched_) {
          ++out->unmatched;
        } else {
          batch.reject(record, "no table of stream '" + record.stream() + "' takes it (where)");
        }
      }
    }
    // Inputs with a rejected record: none of their records' rows are written.
    std::set<const etl::Record*> failed;
    for (std::size_t i = lettersBefore; i < batch.deadLetters.size(); ++i) {
      if (batch.deadLetters[i].record.origin()) {
        failed.insert(batch.deadLetters[i].record.origin().get());
      }
    }
    std::vector<etl::Record> kept;
    kept.reserve(batch.records.size());
    std::map<const etl::Record*, uint32_t> unitOf;
    uint32_t units = 0;
    out->rows.resize(tables_.size());
    out->origin.resize(tables_.size());
    out->units.resize(tables_.size());
    for (std::size_t r = 0; r < batch.records.size(); ++r) {
      const auto& origin = batch.records[r].origin();
      if (origin && failed.count(origin.get())) continue;
      uint32_t unit = units;
      if (origin) {
        unit = unitOf.emplace(origin.get(), units).first->second;
      }
      if (unit == units) ++units;
      for (auto& [t, row] : made[r]) {
        out->rows[t].push_back(std::move(row));
        out->origin[t].push_back(kept.size());
        out->units[t].push_back(unit);
      }
      kept.push_back(std::move(batch.records[r]));
    }
    batch.records = std::move(kept);
    etl::settleOrigins(batch);  // their dead letters become one per input
    return out;
  }

  etl::Context& context_;
  std::vector<sql_sink::TableMapping> tables_;
  std::map<std::string, std::vector<std::size_t>> byStream_;
  std::set<std::string> validated_;  // streams a table stores whole in a json/jsonb column
  bool dropUnmatched_;
  std::unique_ptr<sql::Database> database_;
  std::vector<std::atomic<int64_t>*> stored_;
};

const etl::ConfigField kSchema[] = {
    {"connection", etl::Type::Connection, etl::Required, nullptr,
     "a name under the file's connections: (URI postgresql://..., mysql://... or sqlite:PATH, "
     "relative to "
     "state_dir; optional migrations folder), or a URI in place"},
    {"tables", etl::Type::Document, etl::Required, nullptr,
     "table name (or a label, with table:) -> its mapping; tables are written in this order",
     nullptr, nullptr, nullptr, nullptr, sql_sink::kTableKeys},
    {"answer_timeout", etl::Type::Duration, etl::Optional, "10m",
     "PostgreSQL and MariaDB/MySQL: how long one statement (a batch's COPY or INSERT, a "
     "migration) may wait for the "
     "server's answer; past it the connection is dropped and the batch retried (a frozen "
     "server, a network cut)"},
    {"create", etl::Type::String, etl::Optional, "none",
     "auto: create a missing table from the declared columns' types (text when none)", nullptr,
     nullptr, "none|auto"},
    {"unmatched", etl::Type::String, etl::Optional, "dead_letter",
     "a record no table takes (its stream has no table, or no table's where matches): a "
     "dead_letter, or drop it (counted in <pipeline>.unmatched_dropped)",
     nullptr, nullptr, "dead_letter|drop"},
    {}};

}  // namespace

ETL_PLUGIN(SqlSink, "sql", etl::Kind::Sink, "1.0.0",
           "Any stream into any table by YAML, PostgreSQL, SQLite or MariaDB/MySQL (from the "
           "connection URI), "
           "exactly once",
           kSchema)
