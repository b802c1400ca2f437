// github_events: polls one of GitHub's events timelines through the shared quota-aware client.
//
// Each poll asks for page 1 with If-None-Match (a 304 means nothing new and, with a token, costs
// nothing), then follows rel="next" verbatim only while a page holds no event already seen. New
// events are emitted oldest first with their verbatim JSON. The timeline only reaches ~300 events
// back and a page covers about a second of global activity, so on /events this is a sample; when a
// whole reachable window was new, events were probably missed, and that is logged and counted.
// Checkpoint: ETag, recent ids, next allowed poll time (the rate-limit budgets are the shared
// client's, kept by the core).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <sstream>

#include "etl/sdk.h"
#include "event_page.h"
#include "link_header.h"
#include "recent_ids.h"

namespace {

int64_t epochMillis(etl::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class GitHubEventsSource : public etl::Source {
 public:
  // Which feed it polls: another feed's ETag and next poll are not resumed from.
  static constexpr const char* kIdentity[] = {"base_url", "endpoint", nullptr};

  GitHubEventsSource(const etl::Config& config, etl::Context& context)
      : context_(context),
        baseUrl_(config.getString("base_url")),
        endpoint_(config.getString("endpoint")),
        token_(config.getString("token")),
        stream_(config.getString("stream")),
        perPage_(config.getInt("per_page")),
        maxPages_(config.getInt("max_pages")),
        minInterval_(config.getDuration("min_poll_interval")),
        timeout_(config.getDuration("timeout")),
        seen_(static_cast<std::size_t>(config.getInt("remember_ids"))) {
    while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
    if (endpoint_.empty() || endpoint_[0] != '/') endpoint_ = "/" + endpoint_;
    host_ = github::hostOf(baseUrl_);
    context_.http.setReserve(host_, config.getDouble("reserve"));
  }

  void open(const std::string& checkpoint) override {
    context_.logger.information(
        "polling " + baseUrl_ + endpoint_ +
        (token_.empty() ? " unauthenticated (60 requests/hour)" : " with a token"));
    if (checkpoint.empty()) return;
    try {
      auto state = Poco::JSON::Parser().parse(checkpoint).extract<Poco::JSON::Object::Ptr>();
      etag_ = state->optValue<std::string>("etag", "");
      int64_t nextPoll = state->optValue<int64_t>("next_poll_ms", 0);
      if (nextPoll < 0) throw etl::CheckpointError("next_poll_ms is negative");
      nextPollAt_ = etl::TimePoint(std::chrono::milliseconds(nextPoll));
      // Written by a run whose clock was ahead: no poll interval is that long, so poll now.
      etl::TimePoint now = context_.clock.now();
      if (nextPollAt_ > now + std::max(interval_, minInterval_)) {
        context_.logger.warning("the checkpoint's next poll (" + etl::isoTime(nextPollAt_) +
                                ") lies further ahead than any poll interval (written with a "
                                "clock ahead?): polling now");
        nextPollAt_ = now;
      }
      if (auto ids = state->getArray("recent_ids")) {
        for (std::size_t i = 0; i < ids->size(); ++i)
          seen_.add(ids->getElement<std::string>(static_cast<unsigned>(i)));
      }
    } catch (const etl::CheckpointError&) {
      throw;
    } catch (const std::exception& e) {
      throw etl::CheckpointError(std::string("it is not a github_events checkpoint (") + e.what() +
                                 ")");
    }
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t) override {
    etl::TimePoint now = context_.clock.now();
    // The clock stepped back since the poll was scheduled: never wait longer than an interval.
    bool stepped = false;
    nextPollAt_ = etl::clampAhead(nextPollAt_, now, std::max(interval_, minInterval_), &stepped);
    if (stepped) {
      context_.logger.warning("the clock moved back: the next poll is in " +
                              std::to_string(std::max(interval_, minInterval_).count() / 1000) +
                              " s, not later");
    }
    if (now < nextPollAt_) return {Status::Idle, nextPollAt_};
    std::vector<github::PageEvent> fresh;
    bool overlap = false;
    std::string url = baseUrl_ + endpoint_ + "?per_page=" + std::to_string(perPage_);
    int pages = 0;
    for (; pages < maxPages_ && !url.empty(); ++pages) {
      etl::HttpRequest request = github::eventsRequest(url, token_, baseUrl_, timeout_);
      if (pages == 0 && !etag_.empty()) request.headers.emplace_back("If-None-Match", etag_);
      etl::HttpResponse response = context_.http.get(request, context_.stop);
      context_.metrics.counter(context_.pipeline + ".github_requests").fetch_add(1);
      if (pages == 0) schedule(response);
      if (response.status == 304) {
        context_.metrics.counter(context_.pipeline + ".github_not_modified").fetch_add(1);
        context_.logger.debug("no new events (304)");
        return {Status::Idle, nextPollAt_};
      }
      if (response.status != 200) {
        // 404/410/422 for a wrong endpoint are permanent; anything else is worth another try.
        std::string what = "GET " + endpoint_ + " answered HTTP " + std::to_string(response.status);
        if (response.status == 404 || response.status == 410 || response.status == 422) {
          throw std::runtime_error(what);
        }
        throw etl::RetryableError(what, nextPollAt_);
      }
      std::vector<github::PageEvent> page;
      try {
        page = github::parseEventPage(response.body);
      } catch (const std::exception& e) {
        throw etl::RetryableError(std::string("unreadable events page: ") + e.what(), nextPollAt_);
      }
      if (pages == 0) pendingEtag_ = response.header("ETag");
      for (auto& event : page) {
        if (!event.id.empty() && seen_.contains(event.id)) {
          overlap = true;
          continue;
        }
        fresh.push_back(std::move(event));
      }
      if (overlap || page.empty()) break;
      url = http_paging::nextLink(response.header("Link"), url);
    }
    // Nothing from before, and every reachable page was new: the feed outran us.
    bool reachedEnd = !overlap;
    if (reachedEnd && !seen_.empty() && !fresh.empty()) {
      context_.metrics.counter(context_.pipeline + ".github_gaps").fetch_add(1);
      context_.logger.warning("probable gap: all " + std::to_string(fresh.size()) + " events of " +
                              std::to_string(pages) +
                              " page(s) were new, so events published "
                              "between polls were missed (the timeline keeps ~300)");
    }
    // How far behind the feed this source is: the age of the newest event it has seen.
    if (!fresh.empty()) {
      if (auto at = etl::parseIsoTime(fresh.front().createdAt)) newest_ = *at;
    }
    if (newest_ != etl::TimePoint{}) {
      context_.metrics.gauge("source_lag_seconds", {{"pipeline", context_.pipeline}})
          .store(std::chrono::duration_cast<std::chrono::seconds>(now - newest_).count());
    }
    // Pages are newest first; emit oldest first. Duplicates within one poll (a page boundary
    // shifting under us) are dropped here.
    std::size_t emitted = 0;
    for (auto it = fresh.rbegin(); it != fresh.rend(); ++it) {
      if (!it->id.empty()) {
        if (seen_.contains(it->id)) continue;
        seen_.add(it->id);
      }
      etl::Record record(stream_, std::move(it->raw), it->id);
      out.push_back(std::move(record));
      ++emitted;
    }
    etag_ = pendingEtag_;
    context_.metrics.counter(context_.pipeline + ".github_events_new")
        .fetch_add(static_cast<int64_t>(emitted));
    context_.logger.information(
        std::to_string(emitted) + " new event(s) from " + std::to_string(pages) +
        " page(s); next poll in " + std::to_string(interval_.count() / 1000) + " s" +
        (endpoint_ == "/events" ? " (the public feed is sampled at this rate)" : ""));
    return {Status::Idle, nextPollAt_};
  }

  std::string checkpoint() const override {
    Poco::JSON::Object state;
    state.set("etag", etag_);
    state.set("next_poll_ms", epochMillis(nextPollAt_));
    Poco::JSON::Array ids;
    for (const auto& id : seen_.list()) ids.add(id);
    state.set("recent_ids", ids);
    std::ostringstream out;
    state.stringify(out);
    return out.str();
  }

 private:
  // Never sooner than X-Poll-Interval (GitHub may raise it under load) or min_poll_interval.
  void schedule(const etl::HttpResponse& response) {
    interval_ = minInterval_;
    try {
      auto header = response.header("X-Poll-Interval");
      if (!header.empty()) interval_ = std::max(interval_, etl::Millis(std::stoll(header) * 1000));
    } catch (const std::exception&) {
    }
    nextPollAt_ = context_.clock.now() + interval_;
    // Lower-priority users of the same budget (enrichment) must leave room for every future poll.
    context_.http.reserveForSchedule(host_, interval_, 1);
  }

  etl::Context& context_;
  std::string baseUrl_, endpoint_, token_, stream_, host_;
  int64_t perPage_, maxPages_;
  etl::Millis minInterval_, timeout_, interval_{60000};
  github::RecentIds seen_;
  std::string etag_, pendingEtag_;
  etl::TimePoint nextPollAt_{};
  etl::TimePoint newest_{};  // created_at of the newest event seen
};

const etl::ConfigField kSchema[] = {
    {"base_url", etl::Type::String, etl::Optional, "https://api.github.com",
     "API root; GitHub Enterprise: https://HOST/api/v3", nullptr, nullptr, nullptr,
     "^https?://[^/ ]+(/[^ ]*)?$#an http(s) URL (https://api.github.com)"},
    {"endpoint", etl::Type::String, etl::Optional, "/events",
     "/events, /repos/{owner}/{repo}/events, /orgs/{org}/events, /users/{user}/events/public, "
     "/networks/{owner}/{repo}/events",
     nullptr, nullptr, nullptr,
     "^/?(events|repos/[^/ ]+/[^/ ]+/events|orgs/[^/ ]+/events|users/[^/ ]+/events(/public)?|"
     "networks/[^/ ]+/[^/ ]+/events)$#an events endpoint (/events, /repos/OWNER/REPO/events, ...)"},
    {"token", etl::Type::String, etl::Optional, "",
     "token(s), comma-separated; use ${GITHUB_TOKEN:-}. Never logged"},
    {"stream", etl::Type::String, etl::Optional, "github_events", "stream of the emitted records"},
    {"per_page", etl::Type::Int, etl::Optional, "100", "events per page (GitHub's maximum: 100)",
     "1", "100"},
    {"max_pages", etl::Type::Int, etl::Optional, "3",
     "pages followed per poll while all events are new (the timeline holds ~300)", "1", "100"},
    {"min_poll_interval", etl::Type::Duration, etl::Optional, "60s",
     "never poll sooner, even if X-Poll-Interval allows it", "0s", "24h"},
    {"timeout", etl::Type::Duration, etl::Optional, "30s",
     "the whole of one request: connecting, TLS, headers and body (then it is retried)", "100ms",
     "10m"},
    {"remember_ids", etl::Type::Int, etl::Optional, "3000",
     "how many recent event ids are kept to drop repeats (bounded memory)", "1", "1000000"},
    {"reserve", etl::Type::Double, etl::Optional, "0.2",
     "share of the rate-limit budget lower-priority plugins (enrichment) may never spend", "0",
     "1"},
    {}};

}  // namespace

ETL_PLUGIN(GitHubEventsSource, "github_events", etl::Kind::Source, "1.0.0",
           "Polls a GitHub events timeline: ETag, X-Poll-Interval, rate limits, pagination, dedupe",
           kSchema)
