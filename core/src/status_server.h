// A small HTTP endpoint for operators: GET /metrics (Prometheus text) and GET /health (JSON with
// each pipeline's state; 503 once one has failed). Enabled with `etlrun --http=127.0.0.1:9187`.
//
// One thread multiplexes every connection with poll(): an idle or slow client (a health checker
// that keeps its connection open, a client sending a byte a second) holds no thread, so the next
// request is answered at once. Each connection gets one request, a few seconds to send it, and is
// closed after the answer. Only GET and HEAD are allowed (405 otherwise).
#pragma once

#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "etl/metrics.h"

namespace etl {

class StatusServer {
 public:
  // `metrics` returns the Prometheus text; `health` the pipelines' states as JSON and whether all
  // are well.
  using MetricsFn = std::function<std::string()>;
  using HealthFn = std::function<std::pair<bool, std::string>()>;
  StatusServer(const std::string& address, MetricsFn metrics, HealthFn health);
  ~StatusServer();
  unsigned short port() const;

 private:
  void run();
  std::string respond(const std::string& request) const;

  MetricsFn metrics_;
  HealthFn health_;
  Poco::Net::ServerSocket socket_;
  int wake_[2] = {-1, -1};  // a byte here ends run()
  std::thread thread_;
};

}  // namespace etl
