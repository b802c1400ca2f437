// A small HTTP endpoint for operators: GET /metrics (Prometheus text) and GET /health (JSON with
// each pipeline's state; 503 once one has failed). Enabled with `etlrun --http=127.0.0.1:9187`.
#pragma once

#include <Poco/Net/HTTPServer.h>

#include <functional>
#include <memory>
#include <string>

#include "etl/metrics.h"

namespace etl {

class StatusServer {
 public:
  // `health` returns the pipelines' states as JSON and whether all are well.
  using HealthFn = std::function<std::pair<bool, std::string>()>;
  StatusServer(const std::string& address, Metrics& metrics, HealthFn health);
  ~StatusServer();
  unsigned short port() const;

 private:
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace etl
