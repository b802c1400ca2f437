#include "list_query.h"

#include "session.h"

namespace sql {

namespace {

class SessionListQuery : public ListQuery {
 public:
  SessionListQuery(std::unique_ptr<Session> session, std::string statement)
      : session_(std::move(session)), statement_(std::move(statement)) {}
  std::vector<std::string> run() override {
    std::vector<std::string> out;
    for (auto& row : session_->query(statement_)) {
      if (!row.empty() && row[0]) out.push_back(std::move(*row[0]));
    }
    return out;
  }

 private:
  std::unique_ptr<Session> session_;  // connects on its first query, and again after an outage
  std::string statement_;
};

}  // namespace

std::unique_ptr<ListQuery> makeListQuery(const std::string& uri, const std::string& stateDir,
                                         std::string statement, Poco::Logger& logger,
                                         std::chrono::milliseconds answerTimeout) {
  auto session = makeSession(uri, stateDir, logger);
  session->setAnswerTimeout(answerTimeout);
  return std::make_unique<SessionListQuery>(std::move(session), std::move(statement));
}

}  // namespace sql
