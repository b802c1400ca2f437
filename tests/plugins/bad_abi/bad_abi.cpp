// A sink compiled with ETL_PLUGIN_ABI_VERSION=99: the loader must refuse it before creating it.
#include "etl/sdk.h"

namespace {
class BadAbiSink : public etl::Sink {
 public:
  BadAbiSink(const etl::Config&, etl::Context&) {}
  void write(etl::Batch&) override {}
};
const etl::ConfigField kSchema[] = {{}};
}  // namespace

ETL_PLUGIN(BadAbiSink, "bad_abi", etl::Kind::Sink, "0.0.1", "built for another ABI", kSchema)
