// push_event_parser: for each PushEvent of the input stream, derives a record on the push_events
// stream while the raw event passes on unchanged (to raw storage). A PushEvent missing a required
// field keeps its raw record and gets a dead letter naming the field, so nothing is lost.
#include "etl/sdk.h"
#include "push_event_row.h"

namespace {

class PushEventParser : public etl::Transform {
 public:
  PushEventParser(const etl::Config& config, etl::Context& context)
      : context_(context),
        input_(config.getString("input_stream")),
        output_(config.getString("output_stream")) {}

  void apply(etl::Batch& batch) override {
    std::vector<etl::Record> derived;
    for (const auto& record : batch.records) {
      if (record.stream() != input_) continue;
      std::optional<std::string> type;
      try {
        type = record.find<std::string>("type");
      } catch (const etl::FieldError&) {
        continue;  // unreadable JSON: the sink dead-letters the raw record itself
      }
      if (type != std::string("PushEvent")) continue;
      try {
        std::string row = push_events::rowFromEvent(record);
        std::string key = std::to_string(record.get<int64_t>("payload.push_id"));
        derived.emplace_back(output_, std::move(row), std::move(key));
      } catch (const etl::FieldError& e) {
        batch.reject(record, std::string("PushEvent not parsed into ") + output_ + ": " + e.what());
      }
    }
    context_.metrics.counter(context_.pipeline + ".push_events_parsed")
        .fetch_add(static_cast<int64_t>(derived.size()));
    for (auto& r : derived) batch.records.push_back(std::move(r));
  }

 private:
  etl::Context& context_;
  std::string input_, output_;
};

const etl::ConfigField kSchema[] = {{"input_stream", etl::Type::String, etl::Optional,
                                     "github_events", "stream holding GitHub events"},
                                    {"output_stream", etl::Type::String, etl::Optional,
                                     "push_events", "stream the derived push rows go to"},
                                    {}};

}  // namespace

ETL_PLUGIN(PushEventParser, "push_event_parser", etl::Kind::Transform, "1.0.0",
           "Derives push_events rows from PushEvents (all payload shapes); raw events pass on",
           kSchema)
