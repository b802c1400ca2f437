// The quota-aware HTTP client against the fake GitHub: budgets per credential, several tokens,
// reserves for higher priority, schedule-aware reserves, snapshots without secrets.
#include <gtest/gtest.h>

#include "etl/errors.h"
#include "fake_github.h"
#include "quota_http_client.h"
#include "simulated_clock.h"

namespace {

class HttpClient : public testing::Test {
 protected:
  void SetUp() override {
    fake_.serve("/users/x", R"({"login":"x","id":1})");
    fake_.start();
  }
  etl::HttpResponse get(etl::Priority priority = etl::Priority::High,
                        const std::string& token = "") {
    etl::HttpRequest request;
    request.url = fake_.baseUrl() + "/users/x";
    request.priority = priority;
    request.token = token;
    return client_.get(request, stop_);
  }
  etltest::SimulatedClock clock_{etltest::simulationStart()};
  fakegh::FakeGitHub fake_{clock_};
  etl::QuotaHttpClient client_{clock_};
  etl::StopSignal stop_;
};

TEST_F(HttpClient, NeverSendsARequestThatTheBudgetCannotPayFor) {
  fake_.setRateLimit(5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get().status, 200);
  EXPECT_THROW(get(), etl::RateLimitedError);
  EXPECT_THROW(get(), etl::RateLimitedError);
  EXPECT_EQ(fake_.requests().size(), 5u) << "a refused request was sent anyway";
  EXPECT_EQ(fake_.violations(), 0);
  clock_.advance(std::chrono::minutes(61));  // the window resets
  EXPECT_EQ(get().status, 200);
}

TEST_F(HttpClient, SpreadsRequestsOverSeveralTokens) {
  fake_.setRateLimit(60, 3);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(get(etl::Priority::High, "tokA, tokB").status, 200) << i;
  EXPECT_THROW(get(etl::Priority::High, "tokA, tokB"), etl::RateLimitedError);
  EXPECT_EQ(fake_.violations(), 0);
  for (const auto& r : fake_.requests()) EXPECT_TRUE(r.authorized);
}

TEST_F(HttpClient, LowPriorityNeverSpendsTheReserve) {
  fake_.setRateLimit(10);
  client_.setReserve("127.0.0.1", 0.5);
  EXPECT_EQ(get(etl::Priority::High).status, 200);  // learns the budget: 9 left
  int low = 0;
  try {
    while (true) {
      get(etl::Priority::Low);
      ++low;
    }
  } catch (const etl::RateLimitedError& e) {
    EXPECT_TRUE(e.notBefore().has_value());
  }
  EXPECT_EQ(low, 4) << "low priority may go down to the reserved 5, no further";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(etl::Priority::High).status, 200);
  EXPECT_THROW(get(etl::Priority::High), etl::RateLimitedError);
}

TEST_F(HttpClient, ScheduleReserveKeepsEveryFuturePoll) {
  fake_.setRateLimit(60);
  EXPECT_EQ(get(etl::Priority::High).status, 200);  // 59 left, reset in an hour
  client_.reserveForSchedule("127.0.0.1", std::chrono::minutes(2), 1);
  int low = 0;
  try {
    while (true) {
      get(etl::Priority::Low);
      ++low;
    }
  } catch (const etl::RateLimitedError&) {
  }
  // 30 polls fit before the reset, plus one in hand: 59 - 31 = 28 for low priority.
  EXPECT_EQ(low, 28);
}

TEST_F(HttpClient, SnapshotsRestoreTheBudgetAndHoldNoToken) {
  fake_.setRateLimit(60, 4);
  for (int i = 0; i < 4; ++i) get(etl::Priority::High, "ghp_secretvalue");
  std::string snapshot = client_.budgetSnapshot();
  EXPECT_EQ(snapshot.find("ghp_secretvalue"), std::string::npos) << snapshot;
  etl::QuotaHttpClient restarted(clock_);
  restarted.restoreBudget(snapshot);
  etl::HttpRequest request;
  request.url = fake_.baseUrl() + "/users/x";
  request.token = "ghp_secretvalue";
  EXPECT_THROW(restarted.get(request, stop_), etl::RateLimitedError)
      << "a restart burst past the limit";
  EXPECT_EQ(fake_.violations(), 0);
}

TEST_F(HttpClient, FollowsRedirectsAndLeavesRetriesToTheOneRetryLayer) {
  fake_.redirect("/repos/old/name", "/users/x");
  etl::HttpRequest request;
  request.url = fake_.baseUrl() + "/repos/old/name";
  auto response = client_.get(request, stop_);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.finalUrl, fake_.baseUrl() + "/users/x");
  // A server error is retryable, and get() leaves the retrying to the runner: one request.
  std::size_t before = fake_.requests().size();
  fake_.inject(fakegh::Fault::Status503, 1);
  EXPECT_THROW(get(), etl::RetryableError);
  EXPECT_EQ(fake_.requests().size(), before + 1) << "get() retried by itself";
  EXPECT_EQ(get().status, 200);
}

TEST_F(HttpClient, KeepsTheTokenOnRedirectsWithinItsOriginOnly) {
  fakegh::FakeGitHub other(clock_);
  other.serve("/users/y", R"({"login":"y","id":2})");
  other.start();
  fake_.serve("/users/z", R"({"login":"z","id":3})");
  fake_.redirect("/users/here", "/users/z");                    // same origin
  fake_.redirect("/users/away", other.baseUrl() + "/users/y");  // another origin
  etl::HttpRequest request;
  request.token = "ghp_secret";
  request.url = fake_.baseUrl() + "/users/here";
  EXPECT_EQ(client_.get(request, stop_).status, 200);
  request.url = fake_.baseUrl() + "/users/away";
  auto response = client_.get(request, stop_);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.finalUrl, other.baseUrl() + "/users/y");
  for (const auto& r : fake_.requests()) EXPECT_TRUE(r.authorized) << r.target;
  ASSERT_EQ(other.requests().size(), 1u);
  EXPECT_FALSE(other.requests()[0].authorized) << "the token followed a redirect to another port";
}

TEST_F(HttpClient, ARefusedTokenFailsAtOnceInsteadOfBeingRetried) {
  fake_.fail("/users/x", 401, R"({"message":"Bad credentials"})");
  try {
    get(etl::Priority::High, "ghp_revoked");
    FAIL() << "a 401 was returned as if it were an answer";
  } catch (const etl::RetryableError& e) {
    FAIL() << "a 401 does not heal by waiting: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("ghp_revoked"), std::string::npos) << "token in message";
  }
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(HttpClient, AForbiddenAnswerIsARateLimitOnlyWhereTheCallerSaysSo) {
  fake_.fail("/users/x", 403, R"({"message":"Resource not accessible"})");
  // GitHub's convention (the default): a bare 403 is a secondary rate limit.
  EXPECT_THROW(get(), etl::RateLimitedError);
  // Any other API's: a 403 without rate-limit headers is an answer, and blocks no budget.
  fake_.fail("/users/y", 403, R"({"message":"forbidden"})");
  etl::HttpRequest request;
  request.url = fake_.baseUrl() + "/users/y";
  request.forbiddenMayBeRateLimit = false;
  etl::QuotaHttpClient client(clock_);
  EXPECT_EQ(client.get(request, stop_).status, 403);
  EXPECT_EQ(client.get(request, stop_).status, 403) << "the first 403 blocked the budget";
}

TEST_F(HttpClient, AnAnswerLongerThanTheRequestAllowsFailsForGood) {
  fake_.serve("/users/big", "{\"bio\":\"" + std::string(5000, 'x') + "\"}");
  etl::HttpRequest request;
  request.url = fake_.baseUrl() + "/users/big";
  request.maxBodyBytes = 1024;
  try {
    client_.get(request, stop_);
    FAIL() << "a body over the bound was returned";
  } catch (const etl::RetryableError& e) {
    FAIL() << "a body over the bound is the same on every try: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("1024 bytes allowed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/users/big"), std::string::npos) << e.what();
  }
  request.maxBodyBytes = 0;  // the client's own bound
  EXPECT_EQ(client_.get(request, stop_).status, 200);
}

}  // namespace
