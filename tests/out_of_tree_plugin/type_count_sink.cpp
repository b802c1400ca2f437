// An out-of-tree sink: counts records by their JSON "type" and rewrites a summary file per batch.
#include <etl/sdk.h>

#include <fstream>
#include <map>

namespace {

class TypeCountSink : public etl::Sink {
 public:
  TypeCountSink(const etl::Config& config, etl::Context& context)
      : path_(config.getString("path")), context_(context) {}

  void write(etl::Batch& batch) override {
    for (const auto& record : batch.records) ++counts_[record.get<std::string>("type")];
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& [type, count] : counts_) out << type << " " << count << "\n";
    context_.logger.information("counted " + std::to_string(batch.records.size()) + " records");
  }

 private:
  std::string path_;
  etl::Context& context_;
  std::map<std::string, int64_t> counts_;
};

const etl::ConfigField kSchema[] = {
    {"path", etl::Type::String, etl::Required, nullptr, "summary file to write"}, {}};

}  // namespace

ETL_PLUGIN(TypeCountSink, "type_count", etl::Kind::Sink, "0.1.0",
           "Counts records by type (an out-of-tree example)", kSchema)
