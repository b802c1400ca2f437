// etl/http.h: the shared, quota-aware HTTP client.
//
// One client per process. It keeps one request budget per (host, credential), learnt from every
// response's rate-limit headers (X-RateLimit-*, the IETF RateLimit-* fields, Retry-After), and
// refuses to send a request it knows would be refused. The budgets are the client's own state,
// kept across restarts by the core (state_dir/http_budgets.json), never in a checkpoint.
// High-priority callers (ingestion) can hold back a reserve that low-priority callers (enrichment)
// never spend. get() makes one attempt (following redirects): when the budget is spent it throws
// etl::RateLimitedError with the time it comes back; a transient failure (5xx, timeout, reset)
// throws etl::RetryableError, and the runner's backoff retries the work.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "etl/clock.h"

namespace etl {

enum class Priority { High, Low };

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string url;  // absolute: https://api.github.com/events?per_page=100
  HttpHeaders headers;
  Priority priority = Priority::High;
  // Bearer token(s), comma-separated; several spread requests over their budgets. Never logged.
  std::string token;
  // The origin (scheme://host:port) the token belongs to; empty: the origin of `url`. The token is
  // sent only to that origin: a redirect or a followed link to another origin goes without it,
  // and a request that would take it from https to http is refused.
  std::string credentialOrigin;
  bool followRedirects = true;
  // The whole request: connecting, the TLS handshake, the headers and the body (and redirects).
  Millis timeout{30000};
  // The most bytes the answer's body may have; 0: the client's own bound (64 MiB). Reading stops
  // there, and the request fails for good (std::runtime_error naming the bound): waiting does not
  // make an answer smaller.
  std::size_t maxBodyBytes = 0;
  // GitHub answers 403 for a rate limit, with or without rate-limit headers, so by default every
  // 403 is taken for one (etl::RateLimitedError). Most APIs mean "forbidden" by 403 and send 429
  // for limits: false makes a 403 a rate limit only when it says so (Retry-After, or
  // X-RateLimit-Remaining: 0); any other 403 is returned as an answer.
  bool forbiddenMayBeRateLimit = true;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  std::string finalUrl;  // after redirects
  // Case-insensitive header lookup; empty when absent.
  std::string header(const std::string& name) const;
};

// "scheme://host:port" of an absolute URL, lower case, with the scheme's default port made explicit
// (https://API.github.com/x -> https://api.github.com:443); empty if `url` is not absolute.
std::string originOf(const std::string& url);

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResponse get(const HttpRequest& request, const StopSignal& stop) = 0;
  // Share (0..1) of every budget on `host` kept for Priority::High requests.
  virtual void setReserve(const std::string& host, double share) = 0;
  // A Priority::High caller that sends `requestsPerPoll` requests every `interval` on `host`: low
  // priority callers leave enough of each budget for all of its polls until the budget resets.
  virtual void reserveForSchedule(const std::string& host, Millis interval,
                                  int requestsPerPoll = 1) = 0;
};

}  // namespace etl
