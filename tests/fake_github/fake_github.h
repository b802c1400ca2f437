// A fake GitHub API on 127.0.0.1 for tests: serves recorded exchanges (the fixtures format of
// tests/data/PROVENANCE.md) with their real headers, simulates a moving public events feed with
// ETag/304 and Link pagination, keeps a rate-limit quota per client and answers exactly as GitHub
// does when it is exceeded, injects scripted faults, and logs every request.
#pragma once

#include <Poco/Net/HTTPServer.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etl/clock.h"

namespace fakegh {

enum class Fault {
  Status500,
  Status502,
  Status503,
  TooManyRequests429,  // with Retry-After
  PrimaryLimit403,     // X-RateLimit-Remaining: 0 and a reset time; the client's quota is emptied
  SecondaryLimit403,   // no rate-limit headers; Retry-After only if retryAfterSeconds > 0
  ConnectionReset,     // the socket is closed with RST before any response
  Hang,                // no answer for hangFor (real time), then the normal answer
  TruncatedBody,       // Content-Length promises more than is sent
  MalformedJson,       // 200 with a body that is not JSON
  EventMissingFields,  // an event without id/actor/repo on top of the page
  HugeBody,            // the normal page padded to more than 5 MB
};
const char* faultName(Fault fault);

// One repository of a simulated world: events arrive at random (Poisson) at `perHour`, times
// `burstFactor` during each burst ([start, end) seconds after the world began).
struct WorldRepo {
  std::string name;  // owner/repo: its feed is /repos/owner/repo/events
  double perHour = 1;
  std::vector<std::pair<double, double>> bursts;
  double burstFactor = 10;
};

// What a world's repository published, for checking a watcher against.
struct WorldTruth {
  std::string name;
  std::vector<std::string> ids;    // published after the world began, oldest first
  std::vector<etl::TimePoint> at;  // their created_at
  std::size_t history = 0;         // events it already held when the world began (up to 300)
  etl::TimePoint firstRequest{};   // of its feed; epoch when never asked for
  etl::TimePoint lastRequest{};
};

struct LoggedRequest {
  std::string target;  // path and query
  std::string ifNoneMatch;
  bool authorized = false;  // an Authorization header was received
  etl::TimePoint at;        // on the fake's clock
  int status = 0;           // 0 when the connection was dropped
  std::string fault;        // which fault answered, if any
  bool violation = false;   // sent while the client's quota was known to be spent
};

class FakeGitHub {
 public:
  explicit FakeGitHub(etl::Clock& clock);
  ~FakeGitHub();

  void start(unsigned short port = 0);
  // The same over TLS with the given PEM certificate and key; baseUrl() becomes https://.
  void startTls(const std::string& certFile, const std::string& keyFile);
  void stop();
  unsigned short port() const;
  std::string baseUrl() const;

  // Recorded exchanges from one fixtures file, or every *.json file under a directory. Events of
  // recorded /events responses also seed the feed.
  void loadFixtures(const std::string& path);

  // The moving feed: `events` (JSON objects, each with a unique "id") become the newest, in order.
  void publish(const std::vector<std::string>& events);
  // Publishes `perTick` events every `every` of fake time, made from the templates with fresh ids,
  // lazily (when a request arrives), so virtual time drives it.
  void autoPublish(std::vector<std::string> templates, etl::Millis every, int perTick);
  std::vector<std::string> publishedIds() const;

  // Resources beside the feed (users, repositories): `path` is the decoded path, e.g.
  // /users/pull[bot]. A body is served with a weak ETag and answers 304 to If-None-Match.
  void serve(const std::string& path, const std::string& body);
  // 301 to `location`: a path on this server, or an absolute URL (another server: hostile).
  void redirect(const std::string& path, const std::string& location);
  void fail(const std::string& path, int status, const std::string& body);  // e.g. 404, 451
  // Real time spent before answering a resource request (to catch a process mid-work).
  void setResourceDelay(etl::Millis delay) { resourceDelay_ = delay; }
  // Requests for paths starting with `prefix` (e.g. "/users/").
  int requestsFor(const std::string& prefix) const;

  void setPollInterval(int seconds) { pollInterval_ = seconds; }
  void setRateLimit(int anonymousPerHour, int tokenPerHour = 5000);
  void inject(Fault fault, int times = 1);
  void setRetryAfter(int seconds) { retryAfter_ = seconds; }
  // A 503 fault then carries Retry-After: seconds, as a proxy in front of the API may send.
  void setProxyRetryAfter(int seconds) { proxyRetryAfter_ = seconds; }
  void setHangFor(etl::Millis duration) { hangFor_ = duration; }

  // Hostile modes, for credential tests: `otherBase` is a second server that records what it
  // receives. Every events request is answered with `status` (301/302/307/308) to the same path
  // and query on `otherBase`; or every feed page's Link rel="next" (and last/prev) points there.
  void redirectFeedTo(const std::string& otherBase, int status = 302);
  void linkFeedTo(const std::string& otherBase);  // "/": relative links

  // A world of repositories with a feed each, capped at 300 events like GitHub's, driven by the
  // fake's clock (events are made when a feed is asked for, or the truth is). Each starts with
  // `history` of past events (up to 300). Other events paths answer 404 then.
  void simulateWorld(std::vector<WorldRepo> repos, etl::Millis history, uint64_t seed = 1);
  std::vector<WorldTruth> worldTruth();

  std::vector<LoggedRequest> requests() const;
  int violations() const;
  void setVerbose(bool verbose) { verbose_ = verbose; }
  // Called with each request's target (path and query) before it is answered, on the server's
  // thread while the client waits: a test acts at an exact moment of the client's virtual time.
  void onRequest(std::function<void(const std::string& target)> hook) {
    std::lock_guard<std::mutex> lock(hookMutex_);
    hook_ = std::move(hook);
  }

  class Handler;

 private:
  struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  struct Quota {
    int limit = 60;
    int used = 0;
    etl::TimePoint resetAt{};
    etl::TimePoint blockedUntil{};  // after a secondary limit
  };
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  Response feedPage(const std::string& path, const std::map<std::string, std::string>& query,
                    const std::string& ifNoneMatch, const std::deque<std::string>& feed);
  struct WorldFeed {
    WorldRepo repo;
    int64_t id = 0;                // the repository's id
    std::deque<std::string> feed;  // newest first, at most 300
    double next = 0;               // seconds since the world began: the next event
    uint64_t random = 0;           // its own generator's state
    WorldTruth truth;
  };
  void advance(WorldFeed& feed, double until);
  void tick();

  etl::Clock& clock_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  unsigned short port_ = 0;
  std::string scheme_ = "http";
  mutable std::mutex mutex_;
  std::deque<std::string> feed_;  // newest first
  std::vector<std::string> publishedIds_;
  std::vector<std::string> templates_;
  etl::Millis publishEvery_{0};
  int publishPerTick_ = 0;
  etl::TimePoint lastTick_{};
  uint64_t nextId_ = 90000000000ULL;
  std::map<std::string, std::vector<Response>> recorded_;
  std::map<std::string, std::size_t> recordedNext_;
  std::map<std::string, Quota> quotas_;
  std::map<std::string, Response> resources_;
  etl::Millis resourceDelay_{0};
  int anonymousLimit_ = 60, tokenLimit_ = 5000;
  int pollInterval_ = 60;
  int retryAfter_ = 60;
  int proxyRetryAfter_ = 0;
  etl::Millis hangFor_{1500};
  std::string feedRedirect_, linkBase_;
  int feedRedirectStatus_ = 302;
  std::deque<Fault> faults_;
  std::vector<LoggedRequest> log_;
  std::map<std::string, WorldFeed> world_;  // by feed path
  etl::TimePoint worldStart_{};
  uint64_t worldNextId_ = 20000000000ULL;
  std::atomic<bool> verbose_{false};
  std::mutex hookMutex_;
  std::function<void(const std::string&)> hook_;
};

}  // namespace fakegh
