// The operators' endpoint stays responsive whatever clients do: idle keep-alive connections and a
// client trickling its request one byte at a time hold no thread; only GET and HEAD are served.
// /metrics describes every family (# HELP, # TYPE) and names gauges as gauges.
#include "status_server.h"

#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "prometheus_text.h"

namespace {

using Clock = std::chrono::steady_clock;

// Sends `request` on a new connection and reads the whole answer (the server closes it).
std::string exchange(unsigned short port, const std::string& request) {
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  socket.setReceiveTimeout(Poco::Timespan(5, 0));
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  std::string answer;
  char buffer[4096];
  for (int n; (n = socket.receiveBytes(buffer, sizeof(buffer))) > 0;) answer.append(buffer, n);
  return answer;
}

class StatusServerTest : public testing::Test {
 protected:
  etl::Metrics metrics_;
  etl::StatusServer server_{
      "127.0.0.1:0", [this] { return metrics_.prometheus(); },
      [] { return std::make_pair(true, std::string("{\"status\":\"ok\"}")); }};
};

TEST_F(StatusServerTest, AnswersAtOnceWhileIdleAndSlowClientsHoldConnections) {
  std::vector<std::unique_ptr<Poco::Net::StreamSocket>> idle;
  for (int i = 0; i < 8; ++i) {  // connected, never sending a byte
    idle.push_back(std::make_unique<Poco::Net::StreamSocket>(
        Poco::Net::SocketAddress("127.0.0.1", server_.port())));
  }
  Poco::Net::StreamSocket slow(Poco::Net::SocketAddress("127.0.0.1", server_.port()));
  std::string trickle = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (std::size_t i = 0; i < 10; ++i) slow.sendBytes(&trickle[i], 1);
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    std::string answer = exchange(server_.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto elapsed = Clock::now() - start;
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("{\"status\":\"ok\"}"), std::string::npos) << answer;
    EXPECT_LT(elapsed, std::chrono::milliseconds(500)) << "blocked behind idle clients";
  }
  // The slow client is still served when it finally finishes its request.
  std::string rest = trickle.substr(10) + "\r\n";
  slow.sendBytes(rest.data(), static_cast<int>(rest.size()));
  char buffer[256];
  slow.setReceiveTimeout(Poco::Timespan(5, 0));
  int n = slow.receiveBytes(buffer, sizeof(buffer));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(n)).rfind("HTTP/1.1 200 OK", 0), 0u);
}

TEST_F(StatusServerTest, OnlyGetAndHeadAreAllowed) {
  for (const char* method : {"POST", "DELETE", "PUT", "PATCH"}) {
    std::string answer =
        exchange(server_.port(), std::string(method) + " /health HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << method << answer;
    EXPECT_NE(answer.find("Allow: GET, HEAD"), std::string::npos) << answer;
  }
  std::string head = exchange(server_.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "") << "HEAD has no body";
  EXPECT_EQ(exchange(server_.port(), "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  // An endless request line is cut off, not buffered forever.
  std::string huge = "GET /" + std::string(20000, 'a');
  EXPECT_EQ(exchange(server_.port(), huge).rfind("HTTP/1.1 431", 0), 0u);
}

TEST_F(StatusServerTest, EveryFamilyHasHelpAndType) {
  metrics_.counter("p.records_in").fetch_add(3);
  metrics_.counter("rows_stored", {{"pipeline", "p"}, {"table", "t"}}).fetch_add(2);
  metrics_.counter("rows_stored", {{"pipeline", "p"}, {"table", "u"}}).fetch_add(1);
  metrics_.gauge("files_planned", {{"pipeline", "p"}}).store(4);
  metrics_.histogram("batch_write", {{"pipeline", "p"}}).observe(0.2);
  metrics_.gauge("made_up_by_a_plugin", {{"pipeline", "p"}}).store(1);
  std::string answer = exchange(server_.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string text = answer.substr(answer.find("\r\n\r\n") + 4);
  auto problems = etltest::prometheusProblems(text, false);
  EXPECT_TRUE(problems.empty()) << testing::PrintToString(problems) << "\n" << text;
  for (const char* line :
       {"# HELP etlrun_records_in_total Records the source read.\n"
        "# TYPE etlrun_records_in_total counter\n"
        "etlrun_records_in_total{pipeline=\"p\"} 3\n",
        "# HELP etlrun_rows_stored_total Rows written, by table.\n"
        "# TYPE etlrun_rows_stored_total counter\n"
        "etlrun_rows_stored_total{pipeline=\"p\",table=\"t\"} 2\n"
        "etlrun_rows_stored_total{pipeline=\"p\",table=\"u\"} 1\n",
        "# TYPE etlrun_files_planned gauge\netlrun_files_planned{pipeline=\"p\"} 4\n",
        "# HELP etlrun_batch_write_seconds Time to write and commit one batch.\n"
        "# TYPE etlrun_batch_write_seconds histogram\n",
        // A metric the table does not know still gets a HELP line.
        "# HELP etlrun_made_up_by_a_plugin etlrun metric made_up_by_a_plugin (no description).\n"
        "# TYPE etlrun_made_up_by_a_plugin gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // Only the made-up one lacks a description.
  EXPECT_EQ(etltest::prometheusProblems(text, true),
            std::vector<std::string>{
                "etlrun_made_up_by_a_plugin: no description in core/src/metric_help.cpp"});
}

TEST(PrometheusText, TheCheckFindsWhatIsWrong) {
  auto problems = etltest::prometheusProblems(
      "# TYPE etlrun_files_total gauge\netlrun_files_total 3\n"
      "# HELP etlrun_x_total X.\n# TYPE etlrun_x_total counter\n"
      "# HELP etlrun_x_total X again.\netlrun_x_total 1\netlrun_orphan 2\n",
      false);
  EXPECT_EQ(problems, (std::vector<std::string>{
                          "etlrun_files_total: # TYPE without a # HELP before it",
                          "etlrun_files_total: a gauge named _total (the suffix of counters)",
                          "etlrun_x_total: a second # HELP line",
                          "'etlrun_orphan 2': no # TYPE for its family"}));
}

}  // namespace
