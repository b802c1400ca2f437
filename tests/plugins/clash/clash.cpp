// Built twice (CLASH_NAME clash_a / clash_b): the same class, function and variable names in two
// plugins. Loaded together, each must still run its own code (hidden symbols, RTLD_LOCAL).
#include "etl/sdk.h"

namespace clash {

// Deliberately not in an anonymous namespace: external names that would collide.
const char* label() {
  return CLASH_LABEL;
}
int calls = 0;

class Tagger : public etl::Transform {
 public:
  Tagger(const etl::Config&, etl::Context&) {}
  void apply(etl::Batch& batch) override {
    ++calls;
    for (auto& record : batch.records) record.setStream(record.stream() + label());
  }
};

const etl::ConfigField kSchema[] = {{}};

}  // namespace clash

ETL_PLUGIN(clash::Tagger, CLASH_NAME, etl::Kind::Transform, "1.0.0", "appends its label",
           clash::kSchema)
