// The process-wide HTTP client behind etl::HttpClient: keep-alive sessions (HTTP and HTTPS with
// certificate verification), explicit timeouts, one rate-limit budget per (host, credential),
// priorities with a reserve. It does not retry: the runner does (one retry layer).
#pragma once

#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etl/http.h"
#include "request_deadlines.h"

namespace etl {

struct HttpClientOptions {
  std::string userAgent = "etlrun/0.1 (+https://github.com/etlrun/etlrun)";
  Millis secondaryLimitWait{60000};  // 403/429 without Retry-After and with quota left
  std::size_t maxBodyBytes = 64 << 20;
  // The longest any answer may block a budget (a reset, a Retry-After, a kept budget): rate-limit
  // windows are an hour at most; a time further ahead comes from a clock or proxy gone wrong.
  Millis maxWait{3600 * 1000};
  // Where the budgets survive a restart (written at most once a second and at exit; read at
  // start). "" = kept in memory only.
  std::string budgetFile;
};

class QuotaHttpClient : public HttpClient {
 public:
  QuotaHttpClient(Clock& clock, HttpClientOptions options = {});
  ~QuotaHttpClient() override;
  HttpResponse get(const HttpRequest& request, const StopSignal& stop) override;
  void setReserve(const std::string& host, double share) override;
  void reserveForSchedule(const std::string& host, Millis interval, int requestsPerPoll) override;
  // Budget state (contains no credential), and its restoration: the budget file's content.
  std::string budgetSnapshot() const;
  void restoreBudget(const std::string& snapshot);

  struct Budget {
    int64_t limit = -1;  // -1: unknown until the first response
    int64_t remaining = -1;
    TimePoint resetAt{};       // when `remaining` goes back to `limit`
    TimePoint blockedUntil{};  // Retry-After / secondary limit / primary limit exceeded
    int secondaryStrikes = 0;
  };
  Budget budget(const std::string& host, const std::string& token) const;
  // Every budget, by "host|anon" or "host|token-<hash>" (never the credential itself).
  std::map<std::string, Budget> budgets() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return budgets_;
  }

 private:
  // A budget key never contains the credential itself: "host|anon" or "host|token-<hash>".
  static std::string budgetKey(const std::string& host, const std::string& token);
  std::string chooseToken(const std::string& host, const std::string& tokens);
  void admit(const std::string& key, const std::string& host, Priority priority);
  // `limited`: the answer refused the request for a rate limit (429, or a 403 taken for one).
  void learn(const std::string& key, const HttpResponse& response, bool limited);
  void saveBudgets(bool force);
  HttpResponse send(const std::string& url, const HttpRequest& request, const std::string& token,
                    const StopSignal& stop, RequestDeadlines::Steady::time_point deadline);
  HttpResponse exchange(const Poco::URI& uri, const std::string& id,
                        std::unique_ptr<Poco::Net::HTTPClientSession> session,
                        const HttpRequest& request, const std::string& token,
                        const StopSignal& stop, RequestDeadlines::Steady::time_point deadline);
  std::unique_ptr<Poco::Net::HTTPClientSession> takeIdle(const std::string& id);
  void returnSession(const std::string& id, std::unique_ptr<Poco::Net::HTTPClientSession> s);

  Clock& clock_;
  HttpClientOptions options_;
  Poco::Logger& logger_;
  mutable std::mutex mutex_;
  std::map<std::string, Budget> budgets_;
  std::map<std::string, double> reserves_;
  struct Schedule {
    Millis interval;
    int requests;
  };
  std::map<std::string, Schedule> schedules_;
  TimePoint savedAt_{};
  struct Idle {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    RequestDeadlines::Steady::time_point since;
  };
  std::multimap<std::string, Idle> idle_;
  RequestDeadlines deadlines_;  // last: its thread ends before the sessions go
};

}  // namespace etl
