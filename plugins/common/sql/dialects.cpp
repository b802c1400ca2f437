#include "dialects.h"

#include <stdexcept>

#include "database.h"
#include "etl/errors.h"
#include "session.h"

namespace sql {

// Each in its own file, with its table writer.
const SqlDialect& postgresDialect();
const SqlDialect& sqliteDialect();
const SqlDialect& mysqlDialect();

namespace {

// In the order a URI is offered to them: PostgreSQL last, for it takes the rest (libpq's
// key=value connection strings too).
const std::vector<const SqlDialect*>& registry() {
  static const std::vector<const SqlDialect*> all{&sqliteDialect(), &mysqlDialect(),
                                                  &postgresDialect()};
  return all;
}

}  // namespace

const SqlDialect& dialectOf(const std::string& uri) {
  if (uri.empty()) {
    throw std::runtime_error(
        "no database: the connection is empty (use sqlite:PATH for the embedded store, "
        "postgresql://user@host:port/db or mysql://user@host:port/db)");
  }
  for (const SqlDialect* d : registry()) {
    if (d->accepts(uri)) return *d;
  }
  throw std::runtime_error("no database dialect takes the connection " + uri);
}

const SqlDialect& dialectNamed(const std::string& name) {
  for (const SqlDialect* d : registry()) {
    if (name == d->name()) return *d;
  }
  throw std::invalid_argument("no database dialect " + name);
}

std::string SqlDialect::jsonObject(const std::vector<std::string>& columns,
                                   const std::string& prefix) const {
  std::string pairs;
  for (const auto& c : columns) {
    pairs += (pairs.empty() ? "" : ", ") + quoteLiteral(c) + ", " + prefix + quoteIdentifier(c);
  }
  return "json_object(" + pairs + ")";
}

std::string mark(int i) {
  return "\x01" + std::to_string(i) + "\x02";
}

Bound bindMarks(const SqlDialect& dialect, const std::string& marked,
                const std::vector<std::string>& values) {
  Bound out;
  std::vector<bool> used(values.size());
  bool positional = dialect.positional();
  for (std::size_t at = 0; at < marked.size();) {
    std::size_t start = marked.find('\x01', at);
    out.statement += marked.substr(at, start == std::string::npos ? start : start - at);
    if (start == std::string::npos) break;
    std::size_t end = marked.find('\x02', start);
    int i = std::stoi(marked.substr(start + 1, end - start - 1));
    if (i < 1 || static_cast<std::size_t>(i) > values.size()) {
      throw std::logic_error("statement mark " + std::to_string(i) + " has no value");
    }
    used[static_cast<std::size_t>(i - 1)] = true;
    out.statement += dialect.placeholder(i);
    if (positional) out.values.push_back(values[static_cast<std::size_t>(i - 1)]);
    at = end + 1;
  }
  if (positional) return out;  // (a value no mark names is simply not sent)
  // $N and ?N values go whole: one no mark names would be the database's error (SQLite's
  // SQLITE_RANGE would pass for a row's refusal), not a row's. A mistake here, said so.
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) throw std::logic_error("statement value " + std::to_string(i + 1) + " unused");
  }
  out.values = values;
  return out;
}

std::unique_ptr<Database> makeDatabase(DatabaseOptions options, Poco::Logger& logger) {
  const SqlDialect& d = dialectOf(options.uri);
  return d.database(std::move(options), logger);
}

void Session::open() {
  if (isOpen()) return;
  if (!ownsConnection()) throw etl::RetryableError(describe() + ": the connection was lost");
  connect();
}

std::unique_ptr<Session> makeSession(const std::string& uri, const std::string& stateDir,
                                     Poco::Logger& logger) {
  return dialectOf(uri).session(uri, stateDir, logger);
}

}  // namespace sql
