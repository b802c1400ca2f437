#include "fake_github.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

namespace fakegh {

const char* faultName(Fault fault) {
  switch (fault) {
    case Fault::Status500:
      return "500";
    case Fault::Status502:
      return "502";
    case Fault::Status503:
      return "503";
    case Fault::TooManyRequests429:
      return "429+Retry-After";
    case Fault::PrimaryLimit403:
      return "403 primary rate limit";
    case Fault::SecondaryLimit403:
      return "403 secondary rate limit";
    case Fault::ConnectionReset:
      return "connection reset";
    case Fault::Hang:
      return "hang";
    case Fault::TruncatedBody:
      return "truncated body";
    case Fault::MalformedJson:
      return "malformed JSON";
    case Fault::EventMissingFields:
      return "event missing fields";
    case Fault::HugeBody:
      return "5 MB body";
  }
  return "?";
}

namespace {

int64_t epochSeconds(etl::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string weakEtag(const std::string& body) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : body) hash = (hash ^ c) * 1099511628211ULL;
  std::ostringstream out;
  out << "W/\"" << std::hex << hash << "\"";
  return out.str();
}

std::string stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(value, out);
  return out.str();
}

bool isEventsPath(const std::string& path) {
  return Poco::endsWith(path, std::string("/events")) ||
         Poco::endsWith(path, std::string("/events/public"));
}

}  // namespace

class FakeGitHub::Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(FakeGitHub& fake) : fake_(fake) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    fake_.handle(request, response);
  }

 private:
  FakeGitHub& fake_;
};

namespace {
class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(FakeGitHub& fake) : fake_(fake) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new FakeGitHub::Handler(fake_);
  }

 private:
  FakeGitHub& fake_;
};
}  // namespace

FakeGitHub::FakeGitHub(etl::Clock& clock) : clock_(clock) {}

FakeGitHub::~FakeGitHub() {
  stop();
}

void FakeGitHub::start(unsigned short port) {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
  port_ = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setMaxThreads(16);
  params->setMaxQueued(64);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
  server_->start();
}

void FakeGitHub::startTls(const std::string& certFile, const std::string& keyFile) {
  Poco::Net::initializeSSL();
  Poco::Net::Context::Ptr context(new Poco::Net::Context(
      Poco::Net::Context::TLS_SERVER_USE, keyFile, certFile, "", Poco::Net::Context::VERIFY_NONE));
  Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
  port_ = socket.address().port();
  scheme_ = "https";
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(4);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
  server_->start();
}

void FakeGitHub::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
}

unsigned short FakeGitHub::port() const {
  return port_;
}
std::string FakeGitHub::baseUrl() const {
  return scheme_ + "://127.0.0.1:" + std::to_string(port_);
}

void FakeGitHub::loadFixtures(const std::string& path) {
  Poco::File file(path);
  if (file.isDirectory()) {
    std::vector<std::string> files;
    for (Poco::DirectoryIterator it(file), end; it != end; ++it) {
      if (it->isDirectory() || Poco::endsWith(it.name(), std::string(".json"))) {
        files.push_back(it.path().toString());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) loadFixtures(f);
    return;
  }
  std::ifstream in(path);
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keep GitHub's key order
  Poco::JSON::Object::Ptr root;
  try {
    root = parser.parse(in).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return;  // not an exchange file
  }
  auto exchanges = root->getArray("exchanges");
  if (!exchanges) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < exchanges->size(); ++i) {
    auto exchange = exchanges->getObject(static_cast<unsigned>(i));
    Poco::URI uri(exchange->getObject("request")->getValue<std::string>("url"));
    auto recorded = exchange->getObject("response");
    Response response;
    response.status = recorded->getValue<int>("status");
    auto headers = recorded->getArray("headers");
    for (std::size_t h = 0; headers && h < headers->size(); ++h) {
      auto pair = headers->getArray(static_cast<unsigned>(h));
      response.headers.emplace_back(pair->getElement<std::string>(0),
                                    pair->getElement<std::string>(1));
    }
    Poco::Dynamic::Var body = recorded->get("body");
    if (!body.isEmpty()) response.body = stringify(body);
    if (isEventsPath(uri.getPath()) && response.status == 200 &&
        body.type() == typeid(Poco::JSON::Array::Ptr)) {
      auto events = body.extract<Poco::JSON::Array::Ptr>();
      // Pages are newest first: append to the bottom of the feed in that order.
      for (std::size_t e = 0; e < events->size(); ++e) {
        std::string event = stringify(events->get(static_cast<unsigned>(e)));
        auto id = events->getObject(static_cast<unsigned>(e))->optValue<std::string>("id", "");
        if (std::find(publishedIds_.begin(), publishedIds_.end(), id) != publishedIds_.end())
          continue;
        feed_.push_back(event);
        publishedIds_.push_back(id);
      }
    }
    recorded_[uri.getPathEtc()].push_back(response);
    if (uri.getPathEtc() != uri.getPath()) recorded_[uri.getPath()].push_back(response);
  }
}

void FakeGitHub::publish(const std::vector<std::string>& events) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& event : events) {
    feed_.push_front(event);
    std::istringstream in(event);
    auto id =
        Poco::JSON::Parser().parse(in).extract<Poco::JSON::Object::Ptr>()->optValue<std::string>(
            "id", "");
    publishedIds_.push_back(id);
  }
  while (feed_.size() > 1000) feed_.pop_back();
}

void FakeGitHub::autoPublish(std::vector<std::string> templates, etl::Millis every, int perTick) {
  std::lock_guard<std::mutex> lock(mutex_);
  templates_ = std::move(templates);
  publishEvery_ = every;
  publishPerTick_ = perTick;
  lastTick_ = clock_.now();
}

// Called with mutex_ held: publishes what the elapsed fake time calls for.
void FakeGitHub::tick() {
  if (publishEvery_.count() <= 0 || templates_.empty()) return;
  etl::TimePoint now = clock_.now();
  while (now - lastTick_ >= publishEvery_) {
    lastTick_ += publishEvery_;
    for (int i = 0; i < publishPerTick_; ++i) {
      const std::string& t = templates_[nextId_ % templates_.size()];
      std::string id = std::to_string(nextId_++);
      // Templates start with {"id":"<digits>": swap in the fresh id.
      std::size_t start = t.find("\"id\":\"") + 6, end = t.find('"', start);
      std::string event = t.substr(0, start) + id + t.substr(end);
      feed_.push_front(event);
      publishedIds_.push_back(id);
    }
  }
  while (feed_.size() > 1000) feed_.pop_back();
}

namespace {

// splitmix64: a small, fast, seedable generator; each repository has its own.
double uniform(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;
}

}  // namespace

void FakeGitHub::simulateWorld(std::vector<WorldRepo> repos, etl::Millis history, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  world_.clear();
  worldStart_ = clock_.now();
  double past = -std::chrono::duration<double>(history).count();
  int64_t id = 1000;
  for (auto& repo : repos) {
    WorldFeed w;
    w.id = id++;
    w.random = seed * 1000003 + static_cast<uint64_t>(w.id);
    w.truth.name = repo.name;
    w.repo = std::move(repo);
    w.next = past - std::log(uniform(w.random)) * 3600 / std::max(w.repo.perHour, 1e-9);
    std::string path = "/repos/" + w.repo.name + "/events";
    advance(w, 0);
    w.truth.history = w.feed.size();
    world_[path] = std::move(w);
  }
}

// Makes the events due until `until` (seconds since the world began).
void FakeGitHub::advance(WorldFeed& w, double until) {
  while (w.next <= until) {
    double t = w.next;
    std::string id = std::to_string(worldNextId_++);
    etl::TimePoint created = worldStart_ + std::chrono::duration_cast<etl::TimePoint::duration>(
                                               std::chrono::duration<double>(t));
    w.feed.push_front("{\"id\":\"" + id +
                      "\",\"type\":\"WatchEvent\",\"actor\":{\"id\":583231,\"login\":\"octocat\"},"
                      "\"repo\":{\"id\":" +
                      std::to_string(w.id) + ",\"name\":\"" + w.repo.name +
                      "\"},\"payload\":{\"action\":\"started\"},\"public\":true,\"created_at\":\"" +
                      etl::isoTime(created).substr(0, 19) + "Z\"}");
    if (w.feed.size() > 300) w.feed.pop_back();
    if (t >= 0) {
      w.truth.ids.push_back(id);
      w.truth.at.push_back(created);
    }
    double rate = w.repo.perHour / 3600;
    for (const auto& [from, to] : w.repo.bursts) {
      if (t >= from && t < to) rate *= w.repo.burstFactor;
    }
    w.next = t - std::log(uniform(w.random)) / std::max(rate, 1e-12);
  }
}

std::vector<WorldTruth> FakeGitHub::worldTruth() {
  std::lock_guard<std::mutex> lock(mutex_);
  double now = std::chrono::duration<double>(clock_.now() - worldStart_).count();
  std::vector<WorldTruth> out;
  for (auto& [path, w] : world_) {
    advance(w, now);
    out.push_back(w.truth);
  }
  return out;
}

std::vector<std::string> FakeGitHub::publishedIds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return publishedIds_;
}

void FakeGitHub::setRateLimit(int anonymousPerHour, int tokenPerHour) {
  std::lock_guard<std::mutex> lock(mutex_);
  anonymousLimit_ = anonymousPerHour;
  tokenLimit_ = tokenPerHour;
}

void FakeGitHub::inject(Fault fault, int times) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < times; ++i) faults_.push_back(fault);
}

void FakeGitHub::serve(const std::string& path, const std::string& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response r;
  r.body = body;
  r.headers = {{"Content-Type", "application/json; charset=utf-8"},
               {"Cache-Control", "public, max-age=60, s-maxage=60"},
               {"ETag", weakEtag(body)},
               {"Last-Modified", "Mon, 12 Jan 2026 10:00:00 GMT"}};
  resources_[path] = r;
}

void FakeGitHub::redirect(const std::string& path, const std::string& location) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string target = location.rfind("http", 0) == 0 ? location : baseUrl() + location;
  Response r;
  r.status = 301;
  r.body = "{\"message\":\"Moved Permanently\",\"url\":\"" + target + "\"}";
  r.headers = {{"Location", target}, {"Content-Type", "application/json"}};
  resources_[path] = r;
}

void FakeGitHub::redirectFeedTo(const std::string& otherBase, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  feedRedirect_ = otherBase;
  feedRedirectStatus_ = status;
}

void FakeGitHub::linkFeedTo(const std::string& otherBase) {
  std::lock_guard<std::mutex> lock(mutex_);
  linkBase_ = otherBase;
}

void FakeGitHub::fail(const std::string& path, int status, const std::string& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response r;
  r.status = status;
  r.body = body;
  r.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  resources_[path] = r;
}

int FakeGitHub::requestsFor(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const auto& r : log_) n += r.target.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

std::vector<LoggedRequest> FakeGitHub::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return log_;
}

int FakeGitHub::violations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const auto& r : log_) n += r.violation ? 1 : 0;
  return n;
}

FakeGitHub::Response FakeGitHub::feedPage(const std::string& path,
                                          const std::map<std::string, std::string>& query,
                                          const std::string& ifNoneMatch,
                                          const std::deque<std::string>& feed) {
  int perPage = 30, page = 1;
  if (query.count("per_page"))
    perPage = std::max(1, std::min(100, std::stoi(query.at("per_page"))));
  if (query.count("page")) page = std::max(1, std::stoi(query.at("page")));
  std::size_t reachable = std::min<std::size_t>(feed.size(), 300);  // GitHub keeps ~300
  std::size_t first = static_cast<std::size_t>((page - 1) * perPage);
  std::string body = "[";
  for (std::size_t i = first; i < reachable && i < first + static_cast<std::size_t>(perPage); ++i) {
    if (body.size() > 1) body += ",";
    body += feed[i];
  }
  body += "]";
  Response response;
  std::string etag = weakEtag(body);
  int lastPage = std::max<int>(1, static_cast<int>((reachable + perPage - 1) / perPage));
  // linkFeedTo("/"): links are relative ("/events?..."), as a proxy in front of GitHub may send.
  std::string base = (linkBase_.empty()  ? baseUrl()
                      : linkBase_ == "/" ? ""
                                         : linkBase_) +
                     path + "?per_page=" + std::to_string(perPage) + "&page=";
  std::string link;
  auto add = [&](int p, const char* rel) {
    link += (link.empty() ? "" : ", ") + std::string("<") + base + std::to_string(p) + ">; rel=\"" +
            rel + "\"";
  };
  if (page > 1) add(page - 1, "prev");
  if (page < lastPage) add(page + 1, "next"), add(lastPage, "last");
  if (page > 1) add(1, "first");
  response.headers = {{"Content-Type", "application/json; charset=utf-8"},
                      {"Cache-Control", "public, max-age=60, s-maxage=60"},
                      {"ETag", etag},
                      {"X-Poll-Interval", std::to_string(pollInterval_)},
                      {"X-GitHub-Media-Type", "github.v3; format=json"}};
  if (!link.empty()) response.headers.emplace_back("Link", link);
  if (!ifNoneMatch.empty() && ifNoneMatch == etag) {
    response.status = 304;
    return response;
  }
  response.body = body;
  return response;
}

void FakeGitHub::handle(Poco::Net::HTTPServerRequest& request,
                        Poco::Net::HTTPServerResponse& httpResponse) {
  Poco::URI uri(request.getURI());
  std::map<std::string, std::string> query;
  for (const auto& [k, v] : uri.getQueryParameters()) query[k] = v;
  std::string auth = request.get("Authorization", "");
  std::string ifNoneMatch = request.get("If-None-Match", "");
  std::optional<Fault> fault;
  Response response;
  LoggedRequest entry;
  {
    std::lock_guard<std::mutex> lock(hookMutex_);
    if (hook_) hook_(uri.getPathEtc());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tick();
    etl::TimePoint now = clock_.now();
    entry.target = uri.getPathEtc();
    entry.ifNoneMatch = ifNoneMatch;
    entry.authorized = !auth.empty();
    entry.at = now;
    Quota& quota = quotas_[auth.empty() ? "anon" : auth];
    quota.limit = auth.empty() ? anonymousLimit_ : tokenLimit_;
    if (now >= quota.resetAt) {
      quota.used = 0;
      quota.resetAt = now + std::chrono::hours(1);
    }
    if (!faults_.empty()) {
      fault = faults_.front();
      faults_.pop_front();
      entry.fault = faultName(*fault);
    }
    auto rateHeaders = [&](Response& r) {
      r.headers.emplace_back("X-RateLimit-Limit", std::to_string(quota.limit));
      r.headers.emplace_back("X-RateLimit-Remaining",
                             std::to_string(std::max(0, quota.limit - quota.used)));
      r.headers.emplace_back("X-RateLimit-Reset", std::to_string(epochSeconds(quota.resetAt)));
      r.headers.emplace_back("X-RateLimit-Used", std::to_string(quota.used));
      r.headers.emplace_back("X-RateLimit-Resource", "core");
    };
    bool blocked = now < quota.blockedUntil;
    entry.violation = quota.used >= quota.limit || blocked;
    if (blocked && quota.used < quota.limit) {
      response.status = 403;
      response.body = "{\"message\":\"You have exceeded a secondary rate limit.\"}";
    } else if (entry.violation) {
      response.status = 403;
      response.body =
          "{\"message\":\"API rate limit exceeded for 127.0.0.1. (But here's the good news: "
          "Authenticated requests get a higher rate limit.)\",\"documentation_url\":"
          "\"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting\"}";
      rateHeaders(response);
    } else if (fault == Fault::PrimaryLimit403) {
      quota.used = quota.limit;
      response.status = 403;
      response.body = "{\"message\":\"API rate limit exceeded\"}";
      rateHeaders(response);
    } else if (fault == Fault::SecondaryLimit403 || fault == Fault::TooManyRequests429) {
      response.status = fault == Fault::TooManyRequests429 ? 429 : 403;
      response.body =
          "{\"message\":\"You have exceeded a secondary rate limit. Please wait a few "
          "minutes before you try again.\"}";
      // A 429 always says how long to wait; a secondary 403 only when retryAfter_ is set. With no
      // Retry-After, GitHub asks for at least a minute.
      int wait = retryAfter_ > 0 ? retryAfter_ : 60;
      if (fault == Fault::TooManyRequests429 || retryAfter_ > 0) {
        response.headers.emplace_back("Retry-After", std::to_string(wait));
      }
      quota.blockedUntil = now + std::chrono::seconds(wait);
    } else if (fault == Fault::Status500 || fault == Fault::Status502 ||
               fault == Fault::Status503) {
      response.status = fault == Fault::Status500 ? 500 : fault == Fault::Status502 ? 502 : 503;
      response.body = "{\"message\":\"Server Error\"}";
      // A proxy or load balancer in front may say when to come back; the API itself is not
      // blocked by it.
      if (fault == Fault::Status503 && proxyRetryAfter_ > 0) {
        response.headers.emplace_back("Retry-After", std::to_string(proxyRetryAfter_));
      }
      ++quota.used;
      rateHeaders(response);
    } else if (!feedRedirect_.empty() && isEventsPath(uri.getPath())) {
      response.status = feedRedirectStatus_;
      response.headers = {{"Location", feedRedirect_ + uri.getPathEtc()},
                          {"Content-Type", "application/json"}};
      response.body = "{\"message\":\"Moved\"}";
      ++quota.used;
      rateHeaders(response);
    } else if (resources_.count(uri.getPath())) {
      response = resources_[uri.getPath()];
      bool notModified = false;
      for (const auto& [name, value] : response.headers) {
        if (Poco::icompare(name, "ETag") == 0 && !ifNoneMatch.empty() && value == ifNoneMatch) {
          notModified = true;
        }
      }
      if (notModified) {
        response.status = 304;
        response.body.clear();
      }
      if (!(response.status == 304 && !auth.empty())) ++quota.used;
      rateHeaders(response);
    } else if (!world_.empty() && isEventsPath(uri.getPath())) {
      auto it = world_.find(uri.getPath());
      if (it == world_.end()) {
        response.status = 404;
        response.body = "{\"message\":\"Not Found\"}";
      } else {
        WorldFeed& w = it->second;
        if (w.truth.firstRequest == etl::TimePoint{}) w.truth.firstRequest = now;
        w.truth.lastRequest = now;
        advance(w, std::chrono::duration<double>(now - worldStart_).count());
        response = feedPage(uri.getPath(), query, ifNoneMatch, w.feed);
      }
      if (!(response.status == 304 && !auth.empty())) ++quota.used;  // a 304 with a token is free
      rateHeaders(response);
    } else if (isEventsPath(uri.getPath())) {
      response = feedPage(uri.getPath(), query, ifNoneMatch, feed_);
      if (!(response.status == 304 && !auth.empty())) ++quota.used;  // a 304 with a token is free
      rateHeaders(response);
      if (fault == Fault::MalformedJson)
        response.body = "[{\"id\":\"1\",\"type\":\"PushEvent\",\"actor\":{";
      if (fault == Fault::EventMissingFields && response.status == 200) {
        response.body.insert(1, std::string("{\"type\":\"PushEvent\",\"payload\":{}}") +
                                    (response.body.size() > 2 ? "," : ""));
      }
      if (fault == Fault::HugeBody && response.status == 200) {
        response.body.insert(response.body.size() - 1, std::string(5 << 20, ' '));
      }
    } else {
      auto it = recorded_.find(uri.getPathEtc());
      if (it == recorded_.end()) it = recorded_.find(uri.getPath());
      if (it == recorded_.end()) {
        response.status = 404;
        response.body =
            "{\"message\":\"Not "
            "Found\",\"documentation_url\":\"https://docs.github.com/rest\",\"status\":\"404\"}";
        rateHeaders(response);
      } else {
        std::size_t& next = recordedNext_[it->first];
        response = it->second[std::min(next, it->second.size() - 1)];
        ++next;
        if (!ifNoneMatch.empty()) {
          for (const auto& [name, value] : response.headers) {
            if (Poco::icompare(name, "ETag") == 0 && value == ifNoneMatch) {
              response.status = 304;
              response.body.clear();
            }
          }
        }
        ++quota.used;
      }
    }
    entry.status = response.status;
    if (fault == Fault::ConnectionReset) entry.status = 0;
    log_.push_back(entry);
  }
  if (verbose_) {
    std::cout << "GET " << entry.target << (entry.authorized ? " [Authorization]" : "") << " -> "
              << entry.status << (entry.fault.empty() ? "" : " [" + entry.fault + "]")
              << (entry.violation ? " VIOLATION" : "") << std::endl;
  }
  auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
  if (fault == Fault::ConnectionReset) {
    socket.setLinger(true, 0);
    socket.close();
    return;
  }
  if (fault == Fault::Hang) std::this_thread::sleep_for(hangFor_);
  if (resourceDelay_.count() > 0 && !isEventsPath(uri.getPath())) {
    std::this_thread::sleep_for(resourceDelay_);
  }
  httpResponse.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
  for (const auto& [name, value] : response.headers) {
    if (Poco::icompare(name, "Content-Length") == 0 ||
        Poco::icompare(name, "Transfer-Encoding") == 0 || Poco::icompare(name, "Connection") == 0) {
      continue;
    }
    httpResponse.add(name, value);
  }
  // GitHub's Date and its X-RateLimit-Reset come from one clock, here the fake's (a recorded Date
  // is years old, and a simulated world runs on its own time).
  httpResponse.setDate(Poco::Timestamp::fromEpochTime(epochSeconds(clock_.now())));
  httpResponse.setContentLength(static_cast<std::streamsize>(response.body.size()));
  std::ostream& out = httpResponse.send();
  if (fault == Fault::TruncatedBody) {
    out.write(response.body.data(), static_cast<std::streamsize>(response.body.size() / 2));
    out.flush();
    socket.shutdown();
    socket.close();
    return;
  }
  out.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
}

}  // namespace fakegh
