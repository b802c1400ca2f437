// event_filter: keeps (or drops) records whose JSON fields have one of the given values, e.g.
//   match: {type: [PushEvent]}
// A record whose JSON cannot be read goes to the dead letters with the reason.
#include <set>

#include "etl/sdk.h"

namespace {

class EventFilter : public etl::Transform {
 public:
  EventFilter(const etl::Config& config, etl::Context& context) : context_(context) {
    for (const auto& [field, values] : config.getStringListMap("match")) {
      match_.push_back({field, std::set<std::string>(values.begin(), values.end())});
    }
    keep_ = config.getString("mode") == "keep";  // the schema allows only keep or drop
    if (config.has("streams")) {
      const auto& streams = config.getStringList("streams");
      streams_.insert(streams.begin(), streams.end());
    }
  }

  void apply(etl::Batch& batch) override {
    std::vector<etl::Record> kept;
    kept.reserve(batch.records.size());
    for (auto& record : batch.records) {
      if (!streams_.empty() && !streams_.count(record.stream())) {
        kept.push_back(std::move(record));
        continue;
      }
      try {
        if (matches(record) == keep_) kept.push_back(std::move(record));
      } catch (const etl::FieldError& e) {
        batch.reject(std::move(record), e.what());
      }
    }
    batch.records = std::move(kept);
  }

 private:
  // Scalars compare by their text: numbers and booleans as written in JSON.
  static std::optional<std::string> text(const etl::Record& record, const std::string& field) {
    try {
      return record.find<std::string>(field);
    } catch (const etl::FieldError&) {
      if (auto n = record.find<int64_t>(field)) return std::to_string(*n);
      if (auto b = record.find<bool>(field)) return std::string(*b ? "true" : "false");
      throw;
    }
  }

  bool matches(const etl::Record& record) const {
    for (const auto& [field, values] : match_) {
      auto value = text(record, field);
      if (!value || !values.count(*value)) return false;
    }
    return true;
  }

  etl::Context& context_;
  std::vector<std::pair<std::string, std::set<std::string>>> match_;
  std::set<std::string> streams_;
  bool keep_ = true;
};

const etl::ConfigField kSchema[] = {
    {"match", etl::Type::StringListMap, etl::Required, nullptr,
     "field -> accepted values; all fields must match ({type: [PushEvent]})"},
    {"mode", etl::Type::String, etl::Optional, "keep", "keep or drop the matching records", nullptr,
     nullptr, "keep|drop"},
    {"streams", etl::Type::StringList, etl::Optional, nullptr,
     "only look at records of these streams; others pass through"},
    {}};

}  // namespace

ETL_PLUGIN(EventFilter, "event_filter", etl::Kind::Transform, "1.0.0",
           "Keeps or drops records by JSON field values", kSchema)
