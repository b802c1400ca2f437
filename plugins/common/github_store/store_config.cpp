#include "store.h"

namespace store {

const etl::ConfigField kConnectionKey = {
    "connection", etl::Type::String, etl::Optional, "",
    "postgresql://user@host:port/db or libpq key=value; empty: the embedded SQLite store"};
const etl::ConfigField kPasswordEnvKey = {
    "password_env", etl::Type::String, etl::Optional, "PGPASSWORD",
    "environment variable holding the password (never logged)"};
const etl::ConfigField kEmbeddedPathKey = {
    "embedded_path", etl::Type::String, etl::Optional, nullptr,
    "SQLite file of the embedded store (default: <state_dir>/etlrun.sqlite)"};

std::unique_ptr<Store> openStore(const etl::Config& config, const etl::Context& context) {
  std::string sqlitePath = config.has("embedded_path") ? config.getString("embedded_path")
                                                       : context.stateDir + "/etlrun.sqlite";
  return openStore(config.getString("connection"), config.getString("password_env"), sqlitePath,
                   context.logger);
}

}  // namespace store
