// github_enrich: turns enrichment claims into actors and repositories rows and an outcome per push
// event. Each distinct actor and repository of a batch is looked at once: cached and younger than
// `ttl` -> no request; stale -> a conditional request (a 304 only refreshes fetched_at); missing ->
// fetched. 404/410/451 -> gone, never retried; a 301 is followed. Requests go out at low priority,
// so ingestion's reserve is never spent; when the budget is gone the push events go back to
// pending until the reset, without counting as an attempt. Partial results are kept.
#include <Poco/URI.h>

#include <cmath>
#include <map>
#include <set>

#include "dialects.h"
#include "etl/sdk.h"
#include "session.h"

namespace {

enum class EntityKind { Actor, Repository };

struct CachedEntity {
  std::string etag;
  std::string fetchedAt;  // ISO 8601 UTC
  std::string status;     // ok | gone
};

std::string encode(const std::string& part) {
  std::string out;
  Poco::URI::encode(part, "!#$&'()*+,/:;=?@[]", out);
  return out;
}

struct Outcome {
  enum State { Ok, Gone, Failed, Deferred } state = Ok;
  std::string error;
  etl::TimePoint until{};
};

class GitHubEnrich : public etl::Transform {
 public:
  GitHubEnrich(const etl::Config& config, etl::Context& context)
      : context_(context),
        cache_(sql::makeSession(config.getConnection("connection").uri, context.stateDir,
                                context.logger)),
        baseUrl_(config.getString("base_url")),
        token_(config.getString("token")),
        input_(config.getString("input_stream")),
        actorsStream_(config.getString("actors_stream")),
        repositoriesStream_(config.getString("repositories_stream")),
        outcomesStream_(config.getString("outcomes_stream")),
        ttl_(config.getDuration("ttl")),
        retryBackoff_(config.getDuration("retry_backoff")),
        timeout_(config.getDuration("timeout")),
        maxAttempts_(config.getInt("max_attempts")) {
    cache_->setAnswerTimeout(config.getDuration("answer_timeout"));
    while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
  }

  // The cache it reads is what the sink stored for earlier batches.
  bool readsSinkOutput() const override { return true; }

  void apply(etl::Batch& batch) override {
    struct Claim {
      int64_t pushId, actorId, repositoryId, attempts;
    };
    std::vector<Claim> claims;
    std::map<int64_t, std::string> actors, repos;
    std::vector<etl::Record> others;
    for (auto& record : batch.records) {
      if (record.stream() != input_) {
        others.push_back(std::move(record));
        continue;
      }
      try {
        Claim c{record.get<int64_t>("push_id"), record.get<int64_t>("actor_id"),
                record.get<int64_t>("repository_id"), record.get<int64_t>("attempts")};
        claims.push_back(c);
        // Absent (a push stored before they were kept): "no name known", a failure.
        std::string login = record.find<std::string>("actor_login").value_or("");
        std::string name = record.find<std::string>("repo_name").value_or("");
        if (actors[c.actorId].empty()) actors[c.actorId] = login;
        if (repos[c.repositoryId].empty()) repos[c.repositoryId] = name;
      } catch (const etl::FieldError& e) {
        batch.reject(std::move(record), std::string("unreadable claim: ") + e.what());
      }
    }
    batch.records = std::move(others);
    if (claims.empty()) return;

    now_ = context_.clock.now();
    rateLimitedUntil_.reset();
    stats_ = {};
    std::map<int64_t, Outcome> actorOutcome = resolve(EntityKind::Actor, actors, batch);
    std::map<int64_t, Outcome> repoOutcome = resolve(EntityKind::Repository, repos, batch);

    std::map<std::string, int64_t> outcomes;
    for (const auto& c : claims) {
      const Outcome& a = actorOutcome[c.actorId];
      const Outcome& r = repoOutcome[c.repositoryId];
      int64_t attempts = c.attempts;
      std::string status;
      std::optional<std::string> nextAttemptAt, error;
      if (a.state == Outcome::Gone || r.state == Outcome::Gone) {
        status = "gone";
        error = a.state == Outcome::Gone ? "actor gone" : "repository gone";
      } else if (a.state == Outcome::Deferred || r.state == Outcome::Deferred) {
        status = "pending";  // the budget ran out: not an attempt
        nextAttemptAt = etl::isoTime(std::max(a.until, r.until));
      } else if (a.state == Outcome::Failed || r.state == Outcome::Failed) {
        attempts = c.attempts + 1;
        status = "failed";
        error = a.state == Outcome::Failed ? "actor: " + a.error : "repository: " + r.error;
        auto wait = retryBackoff_ * (1LL << std::min<int64_t>(attempts - 1, 10));
        nextAttemptAt = etl::isoTime(now_ + std::min<etl::Millis>(wait, std::chrono::hours(24)));
        if (attempts >= maxAttempts_) nextAttemptAt.reset();  // final
      } else {
        status = "completed";
      }
      ++outcomes[status];
      // {push_id, status, attempts[, next_attempt_at][, error]}: the sink updates push_events.
      std::string json = "{\"push_id\":" + std::to_string(c.pushId) + ",\"status\":";
      etl::appendJsonString(json, status);
      json += ",\"attempts\":" + std::to_string(attempts);
      if (nextAttemptAt) {
        json += ",\"next_attempt_at\":";
        etl::appendJsonString(json, *nextAttemptAt);
      }
      if (error) {
        json += ",\"error\":";
        etl::appendJsonString(json, *error);
      }
      json += "}";
      batch.records.emplace_back(outcomesStream_, std::move(json), std::to_string(c.pushId));
    }
    auto& m = context_.metrics;
    const std::string& p = context_.pipeline;
    for (const auto& [status, n] : outcomes) m.counter(p + ".enrich_" + status).fetch_add(n);
    m.counter(p + ".enrich_cache_hits").fetch_add(stats_.hits);
    m.counter(p + ".enrich_requests").fetch_add(stats_.requests);
    m.counter(p + ".enrich_not_modified").fetch_add(stats_.notModified);
    int64_t looked = stats_.hits + stats_.requests;
    std::string summary = "enriched " + std::to_string(claims.size()) + " push event(s):";
    for (const auto& [status, n] : outcomes) summary += " " + status + " " + std::to_string(n);
    summary += "; " + std::to_string(actors.size()) + " actor(s), " + std::to_string(repos.size()) +
               " repositor(ies): cache hits " + std::to_string(stats_.hits) + "/" +
               std::to_string(looked) + ", requests " + std::to_string(stats_.requests) +
               " (304: " + std::to_string(stats_.notModified) + ")";
    if (rateLimitedUntil_)
      summary += "; request budget spent until " + etl::isoTime(*rateLimitedUntil_);
    context_.logger.information(summary);
  }

 private:
  std::map<int64_t, Outcome> resolve(EntityKind kind, const std::map<int64_t, std::string>& names,
                                     etl::Batch& batch) {
    std::vector<int64_t> ids;
    for (const auto& [id, name] : names) ids.push_back(id);
    auto cache = cached(kind, ids);
    std::map<int64_t, Outcome> outcomes;
    for (const auto& [id, name] : names) {
      auto hit = cache.find(id);
      // Fetched "in the future" (while the clock was ahead): of unknown age, so stale. Else an
      // entry fetched with the clock 30 days ahead would pass for fresh for 30 days.
      auto age = now_ - etl::parseIsoTime(hit != cache.end() ? hit->second.fetchedAt : "")
                            .value_or(etl::TimePoint{});
      bool fresh = hit != cache.end() && age >= etl::TimePoint::duration::zero() &&
                   age < std::chrono::duration_cast<etl::TimePoint::duration>(ttl_);
      if (fresh) {
        ++stats_.hits;
        outcomes[id].state = hit->second.status == "gone" ? Outcome::Gone : Outcome::Ok;
        continue;
      }
      if (name.empty()) {
        outcomes[id] = {Outcome::Failed, "no name known to ask the API with", {}};
        continue;
      }
      if (rateLimitedUntil_) {
        outcomes[id] = {Outcome::Deferred, {}, *rateLimitedUntil_};
        continue;
      }
      std::string etag = hit != cache.end() && hit->second.status == "ok" ? hit->second.etag : "";
      outcomes[id] = fetch(kind, id, name, etag, batch);
    }
    return outcomes;
  }

  // What was fetched before: the actors and repositories rows the sql sink wrote (the GitHub
  // pipelines' migrations make the tables), on whichever database the connection names.
  std::map<int64_t, CachedEntity> cached(EntityKind kind, const std::vector<int64_t>& ids) {
    std::map<int64_t, CachedEntity> found;
    if (!cache_->isOpen()) {
      cache_->open();
      context_.logger.information("reading the cache from " + cache_->describe());
    }
    const sql::SqlDialect& dialect = cache_->dialect();
    std::string select = "SELECT id, etag, " + dialect.isoTimeText("fetched_at") +
                         ", status FROM " +
                         (kind == EntityKind::Actor ? "actors" : "repositories") +
                         " WHERE fetched_at IS NOT NULL AND id IN (";
    // A thousand ids a statement: far below every database's limit on parameters.
    for (std::size_t from = 0; from < ids.size(); from += 1000) {
      std::vector<std::string> texts;
      std::string in;
      for (std::size_t i = from; i < ids.size() && i < from + 1000; ++i) {
        in += (texts.empty() ? "" : ", ") + dialect.placeholder(static_cast<int>(i - from + 1));
        texts.push_back(std::to_string(ids[i]));
      }
      sql::Session::Values values(texts.begin(), texts.end());
      for (auto& row : cache_->query(select + in + ")", values)) {
        found[std::stoll(row[0].value_or("0"))] = {row[1].value_or(""), row[2].value_or(""),
                                                   row[3].value_or("ok")};
      }
    }
    return found;
  }

  Outcome fetch(EntityKind kind, int64_t id, const std::string& name, const std::string& etag,
                etl::Batch& batch) {
    etl::HttpRequest request;
    if (kind == EntityKind::Actor) {
      request.url = baseUrl_ + "/users/" + encode(name);
    } else {
      std::size_t slash = name.find('/');
      request.url = baseUrl_ + "/repos/" + encode(name.substr(0, slash)) + "/" +
                    encode(slash == std::string::npos ? "" : name.substr(slash + 1));
    }
    request.priority = etl::Priority::Low;
    request.token = token_;
    request.credentialOrigin = baseUrl_;  // a 301 to another host is followed without it
    request.headers.emplace_back("Accept", "application/vnd.github+json");
    request.timeout = timeout_;
    if (!etag.empty()) request.headers.emplace_back("If-None-Match", etag);
    etl::HttpResponse response;
    try {
      response = context_.http.get(request, context_.stop);
    } catch (const etl::RateLimitedError& e) {
      rateLimitedUntil_ = e.notBefore().value_or(now_ + std::chrono::minutes(1));
      return {Outcome::Deferred, e.what(), *rateLimitedUntil_};
    } catch (const etl::RetryableError& e) {
      ++stats_.requests;
      return {Outcome::Failed, e.what(), {}};
    }
    ++stats_.requests;
    // {id, fetched_at[, name, etag, status, raw]}: what is absent keeps its stored value (a 304
    // only refreshes fetched_at; a gone entity keeps its last known JSON).
    std::string json = "{\"id\":" + std::to_string(id) + ",\"fetched_at\":";
    etl::appendJsonString(json, etl::isoTime(now_));
    auto add = [&](const char* field, const std::string& value) {
      json += std::string(",\"") + field + "\":";
      etl::appendJsonString(json, value);
    };
    bool gone = false;
    switch (response.status) {
      case 200: {
        etl::Record body("api", response.body);
        std::string invalid = body.jsonError();
        if (!invalid.empty()) return {Outcome::Failed, "unreadable answer: " + invalid, {}};
        add("name", name);
        add("etag", response.header("ETag"));
        add("status", "ok");
        json += ",\"raw\":" + response.body;
        break;
      }
      case 304:
        ++stats_.notModified;
        break;
      case 404:
      case 410:
      case 451:
        gone = true;
        add("name", name);
        add("etag", etag);
        add("status", "gone");
        break;
      default:
        return {Outcome::Failed, "HTTP " + std::to_string(response.status), {}};
    }
    json += "}";
    batch.records.emplace_back(kind == EntityKind::Actor ? actorsStream_ : repositoriesStream_,
                               std::move(json), std::to_string(id));
    return {gone ? Outcome::Gone : Outcome::Ok, {}, {}};
  }

  struct Stats {
    int64_t hits = 0, requests = 0, notModified = 0;
  };

  etl::Context& context_;
  std::unique_ptr<sql::Session> cache_;
  std::string baseUrl_, token_, input_, actorsStream_, repositoriesStream_, outcomesStream_;
  etl::Millis ttl_, retryBackoff_, timeout_;
  int64_t maxAttempts_;
  etl::TimePoint now_{};
  std::optional<etl::TimePoint> rateLimitedUntil_;
  Stats stats_;
};

const etl::ConfigField kSchema[] = {
    {"connection", etl::Type::Connection, etl::Required, nullptr,
     "the database holding the actors and repositories already fetched (the cache)"},
    {"base_url", etl::Type::String, etl::Optional, "https://api.github.com", "API root"},
    {"token", etl::Type::String, etl::Optional, "",
     "token(s); use ${GITHUB_TOKEN:-}. Never logged"},
    {"input_stream", etl::Type::String, etl::Optional, "claims",
     "stream of claims: {push_id, actor_id, actor_login, repository_id, repo_name, attempts}"},
    {"actors_stream", etl::Type::String, etl::Optional, "actors",
     "stream of fetched actors: {id, fetched_at, name, etag, status, raw}"},
    {"repositories_stream", etl::Type::String, etl::Optional, "repositories",
     "stream of fetched repositories: {id, fetched_at, name, etag, status, raw}"},
    {"outcomes_stream", etl::Type::String, etl::Optional, "push_enrichment",
     "stream of each push event's outcome: {push_id, status, attempts, next_attempt_at, error}"},
    {"ttl", etl::Type::Duration, etl::Optional, "24h",
     "cached actors/repositories younger than "
     "this are used without a request",
     "0s"},
    {"max_attempts", etl::Type::Int, etl::Optional, "5",
     "failures before a push event is failed for good", "1", "1000"},
    {"retry_backoff", etl::Type::Duration, etl::Optional, "10m",
     "wait before the first retry of a failed push event; doubles each attempt", "1s", "30d"},
    {"timeout", etl::Type::Duration, etl::Optional, "30s",
     "the whole of one request: connecting, TLS, headers and body (then it is retried)", "100ms",
     "10m"},
    {"answer_timeout", etl::Type::Duration, etl::Optional, "1m",
     "the cache's database (PostgreSQL, MariaDB/MySQL): how long one read may wait for the "
     "server's answer; past it the connection is dropped and the read retried",
     "100ms"},
    {}};

}  // namespace

ETL_PLUGIN(GitHubEnrich, "github_enrich", etl::Kind::Transform, "1.0.0",
           "Actor and repository metadata for push events: TTL cache, ETags, low priority", kSchema)
