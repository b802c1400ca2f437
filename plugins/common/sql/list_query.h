// A list kept in a database: the first column of every row a query returns, on PostgreSQL, MySQL or
// SQLite (by the connection URI), for plugins whose settings live in a table (a watch list of
// "every repository seen in the last week"). Reconnects as needed.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace Poco {
class Logger;
}

namespace sql {

class ListQuery {
 public:
  virtual ~ListQuery() = default;
  // Non-NULL values of the first column. Throws etl::RetryableError while the database cannot be
  // reached, std::runtime_error for a query it refuses.
  virtual std::vector<std::string> run() = 0;
};

// `logger` gets the server's notices (PostgreSQL); `answerTimeout` bounds each run's wait for the
// server (Session::setAnswerTimeout).
std::unique_ptr<ListQuery> makeListQuery(const std::string& uri, const std::string& stateDir,
                                         std::string statement, Poco::Logger& logger,
                                         std::chrono::milliseconds answerTimeout);

}  // namespace sql
