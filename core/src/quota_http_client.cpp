#include "quota_http_client.h"

#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <cmath>
#include <optional>
#include <sstream>

#include "etl/errors.h"
#include "etl/files.h"

namespace etl {
namespace {

int64_t toInt(const std::string& text, int64_t fallback) {
  try {
    std::size_t used = 0;
    int64_t v = std::stoll(text, &used);
    return used == text.size() ? v : fallback;
  } catch (const std::exception&) {
    return fallback;
  }
}

TimePoint fromEpoch(int64_t seconds) {
  return TimePoint(std::chrono::seconds(seconds));
}
int64_t toEpoch(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Retry-After: a number of seconds, or an HTTP date.
std::optional<TimePoint> retryAfterOf(const std::string& value, TimePoint now) {
  if (value.empty()) return std::nullopt;
  int64_t seconds = toInt(Poco::trim(value), -1);
  if (seconds >= 0) return now + std::chrono::seconds(seconds);
  try {
    int zone = 0;
    Poco::DateTime date = Poco::DateTimeParser::parse(value, zone);
    return TimePoint(std::chrono::seconds(date.timestamp().epochTime() - zone));
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// A session for a host on a socket connected (and for https, handshaken) beforehand, so that each
// step is watched by the request's deadline (Poco connects inside sendRequest, where nothing can
// watch it). The session still knows its host and port, for the Host header.
template <class Session>
class Connected : public Session {
 public:
  template <class... Extra>
  Connected(const Poco::URI& uri, const Poco::Net::StreamSocket& socket, Extra&&... extra)
      : Session(uri.getHost(), uri.getPort(), std::forward<Extra>(extra)...) {
    this->attachSocket(socket);
  }
};

// Our clock minus the server's (its Date header), when they differ by more than Date's own
// precision can explain; zero otherwise.
TimePoint::duration clockSkew(const HttpResponse& response, TimePoint now) {
  std::string date = response.header("Date");
  if (date.empty()) return {};
  try {
    int zone = 0;
    Poco::DateTime parsed = Poco::DateTimeParser::parse(date, zone);
    TimePoint server(std::chrono::seconds(parsed.timestamp().epochTime() - zone));
    auto skew = now - server;
    if (skew > std::chrono::seconds(5) || skew < -std::chrono::seconds(5)) return skew;
  } catch (const Poco::Exception&) {
  }
  return {};
}

// An answer longer than the request allows: not transient, so never turned into a retry.
class BodyTooLarge : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A 403 or 429 that carries the marks of a rate limit (any API's, not only GitHub's).
bool saysRateLimited(const HttpResponse& response) {
  return !response.header("Retry-After").empty() ||
         Poco::trim(response.header("X-RateLimit-Remaining")) == "0" ||
         Poco::trim(response.header("RateLimit-Remaining")) == "0";
}

Poco::Net::Context::Ptr tlsContext() {
  static Poco::Net::Context::Ptr context = [] {
    Poco::Net::initializeSSL();
    return Poco::Net::Context::Ptr(new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_RELAXED, 9, true,
        "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH"));
  }();
  return context;
}

}  // namespace

std::string originOf(const std::string& url) {
  try {
    Poco::URI uri(url);
    if (uri.getScheme().empty() || uri.getHost().empty()) return {};
    return Poco::toLower(uri.getScheme()) + "://" + Poco::toLower(uri.getHost()) + ":" +
           std::to_string(uri.getPort());
  } catch (const Poco::Exception&) {
    return {};
  }
}

std::string HttpResponse::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (Poco::icompare(key, name) == 0) return value;
  }
  return {};
}

QuotaHttpClient::QuotaHttpClient(Clock& clock, HttpClientOptions options)
    : clock_(clock), options_(std::move(options)), logger_(Poco::Logger::get("http")) {
  if (!options_.budgetFile.empty()) {
    if (auto saved = readFileIfExists(options_.budgetFile)) restoreBudget(*saved);
  }
}

QuotaHttpClient::~QuotaHttpClient() {
  try {
    saveBudgets(true);
  } catch (const std::exception& e) {
    logger_.warning(std::string("cannot keep the request budgets: ") + e.what());
  }
}

// A restart must not burst past a limit it already used up: the budgets go to a file, at most
// once a second (a crash loses at most that second, and restoring keeps the cautious view).
void QuotaHttpClient::saveBudgets(bool force) {
  if (options_.budgetFile.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    TimePoint now = clock_.now();
    if (!force && now - savedAt_ < std::chrono::seconds(1)) return;
    savedAt_ = now;
  }
  writeFileAtomically(options_.budgetFile, budgetSnapshot(), false);
}

std::string QuotaHttpClient::budgetKey(const std::string& host, const std::string& token) {
  if (token.empty()) return host + "|anon";
  // FNV-1a: tells budgets apart, reveals nothing usable about the token.
  uint32_t hash = 2166136261u;
  for (unsigned char c : token) hash = (hash ^ c) * 16777619u;
  std::ostringstream out;
  out << host << "|token-" << std::hex << hash;
  return out.str();
}

void QuotaHttpClient::setReserve(const std::string& host, double share) {
  std::lock_guard<std::mutex> lock(mutex_);
  reserves_[host] = std::max(0.0, std::min(1.0, share));
}

void QuotaHttpClient::reserveForSchedule(const std::string& host, Millis interval,
                                         int requestsPerPoll) {
  std::lock_guard<std::mutex> lock(mutex_);
  schedules_[host] = {std::max(interval, Millis(1000)), std::max(1, requestsPerPoll)};
}

QuotaHttpClient::Budget QuotaHttpClient::budget(const std::string& host,
                                                const std::string& token) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = budgets_.find(budgetKey(host, token));
  return it == budgets_.end() ? Budget{} : it->second;
}

std::string QuotaHttpClient::chooseToken(const std::string& host, const std::string& tokens) {
  if (tokens.find(',') == std::string::npos) return Poco::trim(tokens);
  // Several tokens: the one with the most requests left that is not blocked.
  std::lock_guard<std::mutex> lock(mutex_);
  std::string best;
  int64_t bestScore = INT64_MIN;
  std::istringstream list(tokens);
  for (std::string token; std::getline(list, token, ',');) {
    token = Poco::trim(token);
    if (token.empty()) continue;
    auto it = budgets_.find(budgetKey(host, token));
    int64_t score = INT64_MAX / 2;  // unknown budget: try it
    if (it != budgets_.end()) {
      const Budget& b = it->second;
      TimePoint now = clock_.now();
      if (b.blockedUntil > now)
        score = -toEpoch(b.blockedUntil);
      else if (b.remaining >= 0 && now < b.resetAt)
        score = b.remaining;
    }
    if (score > bestScore) bestScore = score, best = token;
  }
  return best;
}

// Throws RetryableError (with the time it may be tried again) if the budget cannot pay for one
// more request at this priority; otherwise spends one request from it.
void QuotaHttpClient::admit(const std::string& key, const std::string& host, Priority priority) {
  std::lock_guard<std::mutex> lock(mutex_);
  Budget& b = budgets_[key];
  TimePoint now = clock_.now();
  if (b.blockedUntil > now) {
    throw RateLimitedError("rate limited by " + host, b.blockedUntil);
  }
  if (b.remaining >= 0 && now >= b.resetAt) b.remaining = b.limit;  // window rolled over
  if (b.remaining < 0) return;  // unknown yet: the first response tells
  int64_t keep = 0;
  if (priority == Priority::Low) {
    auto share = reserves_.find(host);
    if (share != reserves_.end()) keep = static_cast<int64_t>(std::ceil(b.limit * share->second));
    auto schedule = schedules_.find(host);
    if (schedule != schedules_.end() && b.resetAt > now) {
      // Every poll the high-priority caller will make before the reset, plus one in hand.
      auto window = b.resetAt - now;
      auto interval = std::chrono::duration_cast<TimePoint::duration>(schedule->second.interval);
      auto polls = (window + interval - TimePoint::duration(1)) / interval;
      keep = std::max<int64_t>(keep, static_cast<int64_t>(polls) * schedule->second.requests + 1);
    }
  }
  if (b.remaining <= keep) {
    throw RateLimitedError("request budget for " + host + " spent (" + std::to_string(b.remaining) +
                               " left, " + std::to_string(keep) + " reserved for higher priority)",
                           b.resetAt);
  }
  --b.remaining;
}

void QuotaHttpClient::learn(const std::string& key, const HttpResponse& response, bool limited) {
  std::unique_lock<std::mutex> lock(mutex_);
  Budget& b = budgets_[key];
  TimePoint now = clock_.now();
  // X-RateLimit-* (GitHub, and most APIs): Reset is an epoch time. The IETF RateLimit-* fields:
  // Reset is a number of seconds from now.
  int64_t limit = toInt(response.header("X-RateLimit-Limit"), -1);
  int64_t remaining = toInt(response.header("X-RateLimit-Remaining"), -1);
  int64_t reset = toInt(response.header("X-RateLimit-Reset"), -1);
  // Epoch times in headers are on the server's clock: moved onto ours by the difference its Date
  // header shows, so a clock hours ahead does not take a reset for past and send refused requests.
  TimePoint::duration skew = clockSkew(response, now);
  std::optional<TimePoint> resetAt;
  if (reset > 0) resetAt = fromEpoch(reset) + skew;
  if (limit < 0)
    limit =
        toInt(Poco::trim(response.header("RateLimit-Limit")
                             .substr(0, response.header("RateLimit-Limit").find_first_of(",;"))),
              -1);
  if (remaining < 0) remaining = toInt(response.header("RateLimit-Remaining"), -1);
  if (!resetAt) {
    int64_t delta = toInt(response.header("RateLimit-Reset"), -1);
    if (delta >= 0) resetAt = now + std::chrono::seconds(delta);
  }
  if (limit >= 0) b.limit = limit;
  if (remaining >= 0) b.remaining = remaining;  // the server's count wins over ours
  std::vector<std::string> warnings;
  auto sane = [&](TimePoint t, const char* what) {
    bool clamped = false;
    t = clampAhead(t, now, options_.maxWait, &clamped);
    if (clamped) {
      warnings.push_back(std::string(what) + " of " + key.substr(0, key.find('|')) +
                         " lies more than " + std::to_string(options_.maxWait.count() / 1000) +
                         " s ahead: taken as that long (a broken proxy, or a clock far off)");
    }
    return t;
  };
  if (resetAt) resetAt = sane(*resetAt, "the rate-limit reset");
  if (resetAt) b.resetAt = *resetAt;
  std::optional<TimePoint> retryAfter = retryAfterOf(response.header("Retry-After"), now);
  if (retryAfter && toInt(Poco::trim(response.header("Retry-After")), -1) < 0) {
    *retryAfter += skew;  // an HTTP date, on the server's clock
  }
  if (retryAfter) retryAfter = sane(*retryAfter, "Retry-After");
  if (response.status == 503 && retryAfter) b.blockedUntil = *retryAfter;
  if (limited) {
    if (retryAfter) {
      b.blockedUntil = *retryAfter;
    } else if (remaining == 0 && resetAt) {
      b.blockedUntil = *resetAt;
    } else {
      // Secondary limit with no hint: at least a minute, doubling while it persists.
      b.blockedUntil =
          clampAhead(now + options_.secondaryLimitWait * (1LL << std::min(b.secondaryStrikes, 6)),
                     now, options_.maxWait);
      ++b.secondaryStrikes;
    }
  } else if (response.status < 400) {
    b.secondaryStrikes = 0;
  }
  lock.unlock();
  for (const auto& w : warnings) logger_.warning(w);
  saveBudgets(false);
}

std::unique_ptr<Poco::Net::HTTPClientSession> QuotaHttpClient::takeIdle(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = idle_.find(id);
  while (it != idle_.end() && it->first == id) {
    auto idle = std::move(it->second);
    idle_.erase(it++);
    // Servers close idle connections after a few seconds; an older one is not worth the try.
    if (RequestDeadlines::Steady::now() - idle.since < std::chrono::seconds(4)) {
      return std::move(idle.session);
    }
  }
  return nullptr;
}

void QuotaHttpClient::returnSession(const std::string& id,
                                    std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.emplace(id, Idle{std::move(session), RequestDeadlines::Steady::now()});
}

HttpResponse QuotaHttpClient::send(const std::string& url, const HttpRequest& request,
                                   const std::string& token, const StopSignal& stop,
                                   RequestDeadlines::Steady::time_point deadline) {
  Poco::URI uri(url);
  std::string scheme = uri.getScheme();
  if (scheme != "http" && scheme != "https") {
    throw std::invalid_argument("unsupported URL scheme in " + url);
  }
  std::string id = scheme + "://" + uri.getHost() + ":" + std::to_string(uri.getPort());
  // A kept-alive connection the server closed meanwhile fails before any answer: then once more
  // on a new connection.
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Poco::Net::HTTPClientSession> session = attempt == 0 ? takeIdle(id) : nullptr;
    const bool reused = session != nullptr;
    try {
      return exchange(uri, id, std::move(session), request, token, stop, deadline);
    } catch (const Poco::Net::NoMessageException&) {
      if (!reused) throw;
    } catch (const Poco::Net::ConnectionResetException&) {
      if (!reused) throw;
    }
  }
}

// The whole exchange on one connection (a new one when `session` is null), watched by a ticket of
// `deadlines_` from before the connection is made until the body is read: connecting, the TLS
// handshake, the headers and the body share one deadline, and a stop ends it at once.
HttpResponse QuotaHttpClient::exchange(const Poco::URI& uri, const std::string& id,
                                       std::unique_ptr<Poco::Net::HTTPClientSession> session,
                                       const HttpRequest& request, const std::string& token,
                                       const StopSignal& stop,
                                       RequestDeadlines::Steady::time_point deadline) {
  auto left = [&] {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(deadline -
                                                                    RequestDeadlines::Steady::now())
                  .count();
    return Poco::Timespan(std::max<int64_t>(us, 1000));
  };
  std::optional<Poco::Net::StreamSocket> socket;
  std::optional<Poco::Net::SocketAddress> address;
  int fd = -1;
  if (session) {
    fd = static_cast<int>(session->socket().impl()->sockfd());
  } else {
    address.emplace(uri.getHost(), uri.getPort());  // the name lookup: not watched
    socket.emplace(address->family());
    fd = static_cast<int>(socket->impl()->sockfd());
  }
  RequestDeadlines::Ticket ticket(deadlines_, fd, deadline, stop);
  try {
    if (socket) {
      socket->connect(*address, left());
      socket->setReceiveTimeout(left());
      socket->setSendTimeout(left());
      if (uri.getScheme() == "https") {
        // The handshake happens here, checking the certificate against the host's name.
        session = std::make_unique<Connected<Poco::Net::HTTPSClientSession>>(
            uri, Poco::Net::SecureStreamSocket::attach(*socket, uri.getHost(), tlsContext()),
            tlsContext());
      } else {
        session = std::make_unique<Connected<Poco::Net::HTTPClientSession>>(uri, *socket);
      }
      session->setKeepAlive(true);
      // The connection is ours to renew (takeIdle): the session must never reconnect by itself,
      // which would replace the socket the ticket watches.
      session->setKeepAliveTimeout(Poco::Timespan(365LL * 24 * 3600, 0));
    }
    session->setTimeout(left(), left(), left());
    Poco::Net::HTTPRequest httpRequest(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
    httpRequest.set("User-Agent", options_.userAgent);
    for (const auto& [name, value] : request.headers) httpRequest.set(name, value);
    if (!token.empty()) httpRequest.set("Authorization", "Bearer " + token);
    session->sendRequest(httpRequest);
    Poco::Net::HTTPResponse httpResponse;
    std::istream& body = session->receiveResponse(httpResponse);
    HttpResponse response;
    response.status = static_cast<int>(httpResponse.getStatus());
    response.finalUrl = uri.toString();
    for (const auto& [name, value] : httpResponse) response.headers.emplace_back(name, value);
    const std::size_t maxBody = request.maxBodyBytes ? request.maxBodyBytes : options_.maxBodyBytes;
    if (httpResponse.hasContentLength() &&
        static_cast<uint64_t>(httpResponse.getContentLength64()) > maxBody) {
      throw BodyTooLarge("the answer's body has " +
                         std::to_string(httpResponse.getContentLength64()) +
                         " bytes, more than the " + std::to_string(maxBody) + " bytes allowed");
    }
    char buffer[65536];
    while (body.read(buffer, sizeof(buffer)) || body.gcount() > 0) {
      response.body.append(buffer, static_cast<std::size_t>(body.gcount()));
      if (response.body.size() > maxBody) {
        throw BodyTooLarge("the answer's body is longer than the " + std::to_string(maxBody) +
                           " bytes allowed");
      }
    }
    if (ticket.fired() != RequestDeadlines::Fired::No) throw Poco::Net::MessageException("cut");
    if (httpResponse.hasContentLength() &&
        static_cast<std::size_t>(httpResponse.getContentLength64()) != response.body.size()) {
      throw Poco::Net::MessageException(
          "truncated response body (" + std::to_string(response.body.size()) + " of " +
          std::to_string(httpResponse.getContentLength64()) + " bytes)");
    }
    if (httpResponse.getKeepAlive()) returnSession(id, std::move(session));
    return response;
  } catch (const std::exception&) {
    switch (ticket.fired()) {
      case RequestDeadlines::Fired::Deadline:
        throw RetryableError("no complete answer within " +
                             std::to_string(request.timeout.count()) +
                             " ms (the request's total deadline: connecting, TLS, headers and "
                             "body)");
      case RequestDeadlines::Fired::Stop:
        throw RetryableError("stopped while waiting for the answer");
      case RequestDeadlines::Fired::No:
        throw;
    }
    throw;
  }
}

// One attempt (and its redirects): a transient failure is a RetryableError at once, and the one
// retry layer, the runner's (or the caller's own queue, like enrichment's), owns the backoff.
HttpResponse QuotaHttpClient::get(const HttpRequest& request, const StopSignal& stop) {
  std::string url = request.url;
  // One deadline for the request and its redirects.
  const auto deadline = RequestDeadlines::Steady::now() + request.timeout;
  const std::string tokenOrigin =
      request.credentialOrigin.empty() ? originOf(url) : originOf(request.credentialOrigin);
  std::string host = Poco::URI(url).getHost();
  const std::string tokens = chooseToken(host, request.token);
  std::string lastError;
  for (int redirects = 0;;) {
    // The credential goes to its own origin only (as curl and browsers do): never to another host
    // or port that a redirect or a link names, and never from https down to http.
    std::string origin = originOf(url);
    if (tokenOrigin.rfind("https://", 0) == 0 && origin.rfind("http://", 0) == 0) {
      throw std::runtime_error("refusing to follow " + tokenOrigin + " to plain http (" + origin +
                               Poco::URI(url).getPath() +
                               "): a downgrade from https would expose the request");
    }
    const bool ownOrigin = origin == tokenOrigin;
    const std::string token = ownOrigin ? tokens : std::string();
    if (!ownOrigin && !tokens.empty()) {
      logger_.warning("GET " + origin + Poco::URI(url).getPath() +
                      ": sent without credentials (they belong to " + tokenOrigin + ")");
    }
    std::string key = budgetKey(host, token);
    admit(key, host, request.priority);
    HttpResponse response;
    try {
      response = send(url, request, token, stop, deadline);
    } catch (const Poco::Net::SSLException& e) {
      // An untrusted certificate is a misconfiguration or an impostor, not a network blip.
      if (dynamic_cast<const Poco::Net::CertificateValidationException*>(&e) ||
          e.displayText().find("certificate verify failed") != std::string::npos) {
        throw std::runtime_error("TLS certificate of " + host + " is not trusted (" +
                                 e.displayText() +
                                 "); for a private CA set SSL_CERT_FILE to its certificate");
      }
      lastError = e.displayText();
    } catch (const Poco::Exception& e) {
      lastError = e.displayText();
    } catch (const std::invalid_argument&) {
      throw;
    } catch (const BodyTooLarge& e) {
      throw std::runtime_error("GET " + origin + Poco::URI(url).getPath() + ": " + e.what());
    } catch (const std::exception& e) {
      lastError = e.what();
    }
    if (lastError.empty()) {
      const bool limited = response.status == 429 ||
                           (response.status == 403 &&
                            (request.forbiddenMayBeRateLimit || saysRateLimited(response)));
      learn(key, response, limited);
      logger_.debug("GET " + Poco::URI(url).getPathAndQuery() + " -> " +
                    std::to_string(response.status) + " (remaining " +
                    response.header("X-RateLimit-Remaining") + ")");
      if (response.status == 401) {
        // A refused or missing credential does not heal by waiting.
        throw std::runtime_error(
            "GET " + origin + Poco::URI(url).getPath() + " answered HTTP 401 (" +
            (token.empty() ? "no credentials were sent" : "the token was refused") +
            "): check the token");
      }
      if (limited) {
        Budget b = budget(host, token);
        throw RateLimitedError(
            "rate limited by " + host + " (HTTP " + std::to_string(response.status) + ")",
            b.blockedUntil);
      }
      bool redirect = response.status == 301 || response.status == 302 || response.status == 307 ||
                      response.status == 308;
      if (redirect && request.followRedirects && !response.header("Location").empty() &&
          ++redirects <= 5) {
        url = Poco::URI(Poco::URI(url), response.header("Location")).toString();
        host = Poco::URI(url).getHost();
        continue;
      }
      if (response.status < 500) {
        response.finalUrl = url;
        return response;
      }
      lastError = "HTTP " + std::to_string(response.status);
    }
    throw RetryableError("GET " + host + Poco::URI(url).getPath() + " failed: " + lastError);
  }
}

std::string QuotaHttpClient::budgetSnapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Poco::JSON::Object root;
  for (const auto& [key, b] : budgets_) {
    Poco::JSON::Object entry;
    entry.set("limit", b.limit);
    entry.set("remaining", b.remaining);
    entry.set("reset", toEpoch(b.resetAt));
    entry.set("blocked_until", toEpoch(b.blockedUntil));
    entry.set("strikes", b.secondaryStrikes);
    root.set(key, entry);
  }
  std::ostringstream out;
  root.stringify(out);
  return out.str();
}

void QuotaHttpClient::restoreBudget(const std::string& snapshot) {
  if (snapshot.empty()) return;
  Poco::JSON::Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(snapshot).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    logger_.warning("ignoring unreadable budget snapshot: " + e.displayText());
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& name : root->getNames()) {
    auto entry = root->getObject(name);
    if (!entry) continue;
    Budget& b = budgets_[name];
    // Keep whichever view is more cautious: the snapshot may be older than what we learnt.
    int64_t remaining = entry->optValue<int64_t>("remaining", -1);
    TimePoint reset = fromEpoch(entry->optValue<int64_t>("reset", 0));
    if (b.remaining < 0 || (reset >= b.resetAt && remaining < b.remaining)) {
      b.limit = entry->optValue<int64_t>("limit", -1);
      b.remaining = remaining;
      b.resetAt = reset;
    }
    b.blockedUntil =
        std::max(b.blockedUntil, fromEpoch(entry->optValue<int64_t>("blocked_until", 0)));
    // Written by a run whose clock was ahead, or from a broken proxy's answer: never a block
    // longer than any window can last.
    TimePoint now = clock_.now();
    bool clamped = false, resetClamped = false;
    b.blockedUntil = clampAhead(b.blockedUntil, now, options_.maxWait, &clamped);
    b.resetAt = clampAhead(b.resetAt, now, options_.maxWait, &resetClamped);
    if (clamped || resetClamped) {
      logger_.warning("the kept request budget " + name + " waits more than " +
                      std::to_string(options_.maxWait.count() / 1000) +
                      " s ahead: taken as that long (written with a clock ahead?)");
    }
    b.secondaryStrikes = std::max(b.secondaryStrikes, entry->optValue<int>("strikes", 0));
  }
}

}  // namespace etl
