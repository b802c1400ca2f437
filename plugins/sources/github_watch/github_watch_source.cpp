// github_watch: every event of a list of repositories (organisations, users), on one budget.
//
// Each /repos/{owner}/{repo}/events feed keeps up to 300 events, and with a token a conditional
// request answered 304 costs no quota: so a watch list can be complete where the public /events
// feed is a sample. One source polls every feed of the list (inline, a file re-read when it
// changes), each by its own observed activity (watch_schedule.h): busy feeds often, quiet ones
// rarely, never sooner than X-Poll-Interval, always with the feed's ETag, pages followed only
// until they overlap what was seen. The plan spends at most `budget_share` of the hourly limit
// (the rest is the enrichment's), learnt from X-RateLimit-* on every answer. When a poll finds no
// overlap, the events lost in between are estimated from the times at the boundary; per feed
// counts go to state_dir/<pipeline>.feeds.json and a summary to the log, aggregates to metrics.
// Checkpoint: per feed the ETag, the newest ids and time seen, and the observed rate; a 304
// changes none of it, so a quiet poll commits nothing.
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "etl/files.h"
#include "etl/sdk.h"
#include "event_page.h"
#include "link_header.h"
#include "list_query.h"
#include "watch_schedule.h"

namespace {

constexpr std::size_t kRecentIds = 5;      // the newest ids of a feed, for overlap
constexpr std::size_t kCheckpointIds = 3;  // of which the checkpoint keeps these

double seconds(etl::TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
// Rounded up: waking a tick early would find the feed not yet due and wait for the same time again.
etl::TimePoint at(double s) {
  return etl::TimePoint(
      std::chrono::ceil<etl::TimePoint::duration>(std::chrono::duration<double>(s)));
}

// "owner/repo", "orgs/NAME", "users/NAME" or an endpoint path -> the endpoint path.
std::string endpointOf(std::string entry) {
  while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back()))) entry.pop_back();
  std::size_t start = entry.find_first_not_of(" \t");
  entry = start == std::string::npos ? "" : entry.substr(start);
  if (entry.empty() || entry[0] == '#') return "";
  if (entry[0] == '/') return entry;
  if (entry.rfind("orgs/", 0) == 0 || entry.rfind("users/", 0) == 0) return "/" + entry + "/events";
  if (std::count(entry.begin(), entry.end(), '/') == 1) return "/repos/" + entry + "/events";
  throw std::runtime_error("watch entry '" + entry +
                           "' is not owner/repo, orgs/NAME, users/NAME or /an/events/path");
}

struct Feed {
  std::string path;
  // Kept in the checkpoint: changed only by a poll that found something.
  std::string etag;
  // Newest first. A vector, not a deque: a deque takes half a kilobyte for its first element,
  // and a watch list is ten thousand feeds.
  std::vector<std::string> recent;
  double newestAt = 0;     // created_at of the newest event seen (epoch seconds)
  double rate = 0;         // events per second, as observed
  double lastNewAt = 0;    // when a poll last found new events
  std::size_t listed = 0;  // its place in the watch list (a list ordered by activity)
  // This run's.
  double minSeconds = 60, interval = 3600, due = 0, lastPoll = 0;
  int64_t captured = 0, requests = 0, notModified = 0, gaps = 0, failures = 0;
  double missed = 0;
  bool gone = false;
  int64_t reportedGaps = 0;  // at the last report: what is new since goes to /health
  double reportedMissed = 0;

  // The rate, but no more than the polls that found nothing allow: none in `quiet` seconds
  // bounds the rate at about 3/quiet (95%). (Time not yet looked at is no evidence.)
  double effectiveRate() const {
    double quiet = lastPoll - lastNewAt;
    return lastNewAt > 0 && quiet > 0 ? std::min(rate, 3.0 / quiet) : rate;
  }
};

class GitHubWatchSource : public etl::Source {
 public:
  // The server: its feeds are kept by name, so a changed watch list is the same source.
  static constexpr const char* kIdentity[] = {"base_url", nullptr};

  GitHubWatchSource(const etl::Config& config, etl::Context& context)
      : context_(context),
        baseUrl_(config.getString("base_url")),
        token_(config.getString("token")),
        stream_(config.getString("stream")),
        watchFile_(config.getString("watch_file")),
        roundRobin_(config.getString("schedule") == "round_robin"),
        perPage_(config.getInt("per_page")),
        maxPages_(config.getInt("max_pages")),
        minInterval_(
            std::chrono::duration<double>(config.getDuration("min_poll_interval")).count()),
        maxInterval_(
            std::chrono::duration<double>(config.getDuration("max_poll_interval")).count()),
        refresh_(std::chrono::duration<double>(config.getDuration("watch_refresh")).count()),
        reportEvery_(std::chrono::duration<double>(config.getDuration("report_interval")).count()),
        share_(config.getDouble("budget_share")),
        maxRequests_(config.getDouble("max_requests_per_second")),
        timeout_(config.getDuration("timeout")),
        limit_(token_.empty() ? 60 : 5000),
        remaining_(limit_),
        requests_(context.metrics.counter(context.pipeline + ".github_requests")),
        notModified_(context.metrics.counter(context.pipeline + ".github_not_modified")),
        fresh_(context.metrics.counter(context.pipeline + ".github_events_new")),
        gapCount_(context.metrics.counter(context.pipeline + ".github_gaps")),
        checkpointBytes_(context.metrics.counter(context.pipeline + ".checkpoint_bytes")) {
    while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
    host_ = github::hostOf(baseUrl_);
    context_.http.setReserve(host_, config.getDouble("reserve"));
    for (const auto& entry : config.getStringList("watch")) {
      std::string path = endpointOf(entry);
      if (!path.empty()) listed_.push_back(path);
    }
    check(config);
    if (config.has("watch_query")) {
      const auto& connection = config.getConnection("connection");
      query_ = sql::makeListQuery(connection.uri, context.stateDir, config.getString("watch_query"),
                                  context.logger, config.getDuration("answer_timeout"));
    }
    reportPath_ = context.stateDir + "/" + context.pipeline + ".feeds.json";
  }

  static void check(const etl::Config& config) {
    for (const auto& entry : config.getStringList("watch")) endpointOf(entry);
    if (config.has("watch_query") != config.has("connection")) {
      throw std::runtime_error("watch_query and connection go together: the query runs on it");
    }
    if (config.getStringList("watch").empty() && config.getString("watch_file").empty() &&
        !config.has("watch_query")) {
      throw std::runtime_error(
          "nothing to watch: give watch (owner/repo, ...), watch_file or watch_query");
    }
  }

  ~GitHubWatchSource() override {
    try {
      writeReport();
    } catch (const std::exception&) {
    }
  }

  void open(const std::string& checkpoint) override {
    double now = seconds(context_.clock.now());
    if (!checkpoint.empty()) restore(checkpoint);
    refreshList(now);
    lastReport_ = now;
    context_.logger.information("watching " + std::to_string(feeds_.size()) + " feed(s) on " +
                                baseUrl_ + (token_.empty() ? " unauthenticated" : " with a token") +
                                (roundRobin_ ? ", round robin" : ", by activity"));
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t) override {
    double now = seconds(context_.clock.now());
    if (now - lastRefresh_ >= refresh_) refreshList(now);
    // A limit learnt from an answer (a server allowing more than assumed) re-plans at once: the
    // feeds not polled yet are spread again at the rate it allows.
    if (now - lastPlan_ >= 60 || planned_ != feeds_.size() || plannedLimit_ != limit_) plan(now);
    if (now - lastReport_ >= reportEvery_) report(now);
    // The list and the report have times of their own: an idle source keeps them too.
    double chores = std::min(lastRefresh_ + refresh_, lastReport_ + reportEvery_);
    // The feed due first; but of the feeds due now, one polled before goes ahead of one never
    // polled: a first round of thousands of feeds runs behind its plan when busy feeds take their
    // turns, and a feed whose rate is known loses events by waiting, one never polled only starts
    // later.
    Feed* next = nullptr;
    auto ahead = [now](const Feed& a, const Feed& b) {
      bool aDue = a.due <= now, bDue = b.due <= now;
      if (aDue && bDue && (a.lastPoll > 0) != (b.lastPoll > 0)) return a.lastPoll > 0;
      return a.due < b.due;
    };
    for (auto& [path, feed] : feeds_) {
      if (feed.gone) continue;
      if (!next || ahead(feed, *next)) next = &feed;
    }
    // Idle waits hold the batch (up to max_latency): a commit per poll would write the whole
    // checkpoint, every feed's, for the one feed that moved.
    if (!next) return {Status::Idle, at(std::min(now + 60, chores)), true};
    // The budget, as buckets: of charged requests (10 s worth may come at once) and of all
    // requests. Due feeds wait for their turn.
    double wake = std::max({next->due, tokensAt_, requestsAt_});
    // Never asleep past the next plan: what the last polls learnt (a feed found busy in the first
    // round, planned at the freshness cap before its rate was known) moves its due time up.
    if (wake > now) {
      return {Status::Idle,
              at(std::min({wake, lastPlan_ + 60, chores})) + std::chrono::milliseconds(1), true};
    }
    tokensAt_ = std::max(tokensAt_, now - 10.0) + 1.0 / rps_;  // bursts of 10 s worth at most
    requestsAt_ = std::max(requestsAt_, now - 1.0) + 1.0 / maxRequests_;
    pollFeed(*next, now, out);
    return {Status::More, {}};
  }

  // Rebuilt only when a poll changed what it keeps (the runner asks at every flush, and a
  // watch list is thousands of feeds).
  std::string checkpoint() const override {
    if (!dirty_) return checkpoint_;
    // Sized by the last one: built by appends, a megabyte would take two.
    std::string out;
    out.reserve(checkpoint_.size() + 4096);
    out += "{\"feeds\":{";
    bool first = true;
    for (const auto& [path, f] : feeds_) {
      if (f.etag.empty() && f.recent.empty()) continue;
      out += first ? "" : ",";
      first = false;
      etl::appendJsonString(out, path);
      out += ":{\"etag\":";
      etl::appendJsonString(out, f.etag);
      out += ",\"ids\":[";
      // A few ids are enough to find the overlap after a restart; the rest are kept in memory.
      for (std::size_t i = 0; i < f.recent.size() && i < kCheckpointIds; ++i) {
        if (i) out += ",";
        etl::appendJsonString(out, f.recent[i]);
      }
      char numbers[160];
      std::snprintf(numbers, sizeof numbers, "],\"newest\":%lld,\"new_at\":%lld,\"rate\":%.6g}",
                    static_cast<long long>(f.newestAt), static_cast<long long>(f.lastNewAt),
                    f.rate);
      out += numbers;
    }
    out += "}}";
    checkpoint_ = std::move(out);
    dirty_ = false;
    checkpointBytes_.fetch_add(static_cast<int64_t>(checkpoint_.size()));
    return checkpoint_;
  }

 private:
  void restore(const std::string& checkpoint) {
    try {
      auto root = Poco::JSON::Parser().parse(checkpoint).extract<Poco::JSON::Object::Ptr>();
      auto feeds = root->getObject("feeds");
      if (!feeds) throw etl::CheckpointError("it has no 'feeds'");
      for (const auto& path : feeds->getNames()) {
        auto state = feeds->getObject(path);
        if (!state) throw etl::CheckpointError("feed " + path + " is not an object");
        Feed f;
        f.path = path;
        f.etag = state->optValue<std::string>("etag", "");
        if (auto ids = state->getArray("ids")) {
          for (std::size_t i = 0; i < ids->size(); ++i) {
            f.recent.push_back(ids->getElement<std::string>(static_cast<unsigned>(i)));
          }
        }
        f.newestAt = static_cast<double>(state->optValue<int64_t>("newest", 0));
        f.lastNewAt = static_cast<double>(state->optValue<int64_t>("new_at", 0));
        f.rate = state->optValue<double>("rate", 0);
        if (f.rate < 0 || f.newestAt < 0) throw etl::CheckpointError(path + ": negative values");
        feeds_[path] = std::move(f);
      }
    } catch (const etl::CheckpointError&) {
      throw;
    } catch (const std::exception& e) {
      throw etl::CheckpointError(std::string("it is not a github_watch checkpoint (") + e.what() +
                                 ")");
    }
  }

  // The inline list plus the file's (re-read when it changed); feeds no longer listed are dropped.
  void refreshList(double now) {
    lastRefresh_ = now;
    std::vector<std::string> wanted = listed_;
    if (!watchFile_.empty()) {
      // Known by its content, not its modification time: a file replaced within the second of
      // the last read keeps its time (1 s resolution) but not its bytes. A list is small; reading
      // it every watch_refresh costs little, parsing it is done when it changed.
      std::ifstream in(watchFile_, std::ios::binary);
      if (!in) {
        context_.logger.warning("watch_file " + watchFile_ + " cannot be read (does it exist?)");
      } else {
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::size_t hash = std::hash<std::string>()(content);
        if (hash != fileHash_ || content.size() != fileSize_ || fileEntries_.empty()) {
          fileEntries_.clear();
          std::istringstream lines(content);
          std::string line;
          while (std::getline(lines, line)) {
            try {
              std::string path = endpointOf(line);
              if (!path.empty()) fileEntries_.push_back(path);
            } catch (const std::exception& e) {
              context_.logger.warning(watchFile_ + ": " + e.what());
            }
          }
          fileHash_ = hash;
          fileSize_ = content.size();
        }
        wanted.insert(wanted.end(), fileEntries_.begin(), fileEntries_.end());
      }
    }
    if (query_) {
      // A database that does not answer keeps the list it gave last: an outage must not stop
      // the watching.
      try {
        std::vector<std::string> entries;
        for (const auto& row : query_->run()) {
          try {
            std::string path = endpointOf(row);
            if (!path.empty()) entries.push_back(path);
          } catch (const std::exception& e) {
            context_.logger.warning("watch_query: " + std::string(e.what()));
          }
        }
        queryEntries_ = std::move(entries);
      } catch (const std::exception& e) {
        context_.logger.warning(std::string("watch_query failed (the last list is kept): ") +
                                e.what());
      }
      wanted.insert(wanted.end(), queryEntries_.begin(), queryEntries_.end());
    }
    // Feeds still listed move over node by node (no copy of ten thousand feeds for a moment).
    std::map<std::string, Feed> kept;
    std::size_t added = 0;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      const std::string& path = wanted[i];
      if (kept.count(path)) continue;
      auto it = feeds_.find(path);
      if (it != feeds_.end()) {
        kept.insert(feeds_.extract(it));
      } else {
        Feed f;
        f.path = path;
        kept.emplace(path, std::move(f));
        ++added;
      }
      kept[path].listed = i;
    }
    std::size_t dropped = feeds_.size();  // what is left was not listed
    feeds_ = std::move(kept);
    if (dropped) dirty_ = true;
    planRate(now);
    spreadWaiting(now);
    if (added || dropped) {
      context_.logger.information("watch list: " + std::to_string(feeds_.size()) + " feed(s) (" +
                                  std::to_string(added) + " new, " + std::to_string(dropped) +
                                  " no longer listed)");
    }
    context_.metrics.gauge("github_feeds", {{"pipeline", context_.pipeline}})
        .store(static_cast<int64_t>(feeds_.size()));
  }

  // Requests per second the schedule may spend: its share of the hourly limit, and never the
  // part of what remains until the reset that belongs to the others.
  void planRate(double now) {
    // A poll's follow-up pages go on credit (they cannot wait): what the last poll of an hour
    // may take that way is set aside from the hour's share, so no window spends more than it.
    double credit = static_cast<double>(maxPages_ - 1);
    double byShare = std::max(1.0, share_ * limit_ - credit) / 3600.0;
    double untilReset = std::max(60.0, resetAt_ - now);
    double kept = (1 - share_) * limit_ + credit;
    double byRemaining = resetAt_ > now ? std::max(0.0, remaining_ - kept) / untilReset : byShare;
    rps_ = std::max(1.0 / 3600, std::min(byShare, byRemaining));
  }

  // The feeds not polled yet (new, or restored from the checkpoint) one after the other at the
  // rate the budget allows now, the busiest known first (their rate from the checkpoint), then in
  // the list's order (a watch_query ordered by recent activity, a file listing the busiest first:
  // a late first poll of a busy feed loses what overflowed its 300 events meanwhile). Spread again
  // whenever that rate changes: a first round spaced by the limit assumed before the first answer
  // would take an hour where minutes suffice.
  void spreadWaiting(double now) {
    std::vector<Feed*> waiting;
    for (auto& [path, f] : feeds_) {
      if (f.lastPoll == 0 && !f.gone) waiting.push_back(&f);
    }
    std::stable_sort(waiting.begin(), waiting.end(), [&](const Feed* a, const Feed* b) {
      return a->rate != b->rate ? a->rate > b->rate : a->listed < b->listed;
    });
    // Only ever sooner: a feed already queued keeps its place (pushed back at every new plan,
    // the ones at the end of a slow first round would wait behind the busy feeds for ever).
    double start = std::max(now, tokensAt_);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      double due =
          start + static_cast<double>(i) / std::max(std::min(rps_, maxRequests_), 1e-6) + 1e-3;
      waiting[i]->due = waiting[i]->due == 0 ? due : std::min(waiting[i]->due, due);
    }
  }

  void plan(double now) {
    lastPlan_ = now;
    planned_ = feeds_.size();
    double before = rps_;
    planRate(now);
    if (plannedLimit_ != limit_ || rps_ > before * 1.01 || rps_ < before * 0.99) {
      spreadWaiting(now);
    }
    plannedLimit_ = limit_;
    std::vector<Feed*> active;
    std::vector<github::FeedRate> rates;
    for (auto& [path, f] : feeds_) {
      if (f.gone) continue;
      active.push_back(&f);
      rates.push_back({f.effectiveRate(), std::max(minInterval_, f.minSeconds)});
    }
    if (active.empty()) return;
    std::vector<double> intervals;
    if (roundRobin_) {
      // The baseline: every feed in turn, as often as the budget allows.
      intervals.assign(active.size(), std::max(minInterval_, active.size() / rps_));
    } else {
      github::PlanLimits limits;
      limits.requestsPerSecond = rps_ * 0.95;  // follow-up pages need a little room
      limits.notModifiedIsFree = !token_.empty();
      limits.maxRequestsPerSecond = maxRequests_ * 0.95;
      limits.maxSeconds = maxInterval_;
      intervals = github::planIntervals(rates, limits);
    }
    for (std::size_t i = 0; i < active.size(); ++i) {
      Feed& f = *active[i];
      f.interval = intervals[i];
      if (f.lastPoll > 0) f.due = f.lastPoll + f.interval;
    }
  }

  void pollFeed(Feed& feed, double now, std::vector<etl::Record>& out) {
    std::vector<github::PageEvent> fresh;
    std::vector<double> times;
    bool overlap = false, endReached = false;
    std::string url = baseUrl_ + feed.path + "?per_page=" + std::to_string(perPage_);
    int pages = 0;
    int status = 0;
    try {
      for (; pages < maxPages_ && !url.empty(); ++pages) {
        // A follow-up page is a request like any other: the bucket pays for it too, so the
        // schedule never spends the others' share (without a token even a 304 is charged).
        if (pages > 0) {
          tokensAt_ += 1.0 / rps_;
          requestsAt_ += 1.0 / maxRequests_;
        }
        etl::HttpRequest request = github::eventsRequest(url, token_, baseUrl_, timeout_);
        if (pages == 0 && !feed.etag.empty())
          request.headers.emplace_back("If-None-Match", feed.etag);
        etl::HttpResponse response = context_.http.get(request, context_.stop);
        ++feed.requests;
        requests_.fetch_add(1);
        learnBudget(response);
        status = response.status;
        if (pages == 0) {
          try {
            auto poll = response.header("X-Poll-Interval");
            if (!poll.empty()) feed.minSeconds = std::stod(poll);
          } catch (const std::exception&) {
          }
        }
        if (response.status == 304) {
          ++feed.notModified;
          notModified_.fetch_add(1);
          // With a token a 304 costs no quota: its charged token is given back (the request
          // still counts against requestsAt_).
          if (!token_.empty()) tokensAt_ -= 1.0 / rps_;
          break;
        }
        if (response.status == 404 || response.status == 410 || response.status == 451) {
          feed.gone = true;
          context_.logger.warning(feed.path + " answered HTTP " + std::to_string(response.status) +
                                  ": no longer watched this run (fix the watch list)");
          return;
        }
        if (response.status != 200) {
          throw etl::RetryableError("GET " + feed.path + " answered HTTP " +
                                    std::to_string(response.status));
        }
        std::vector<github::PageEvent> page = github::parseEventPage(response.body);
        if (pages == 0) feed.etag = response.header("ETag");
        for (auto& event : page) {
          if (!event.id.empty() &&
              std::find(feed.recent.begin(), feed.recent.end(), event.id) != feed.recent.end()) {
            overlap = true;
            break;  // newest first: everything from here on was seen
          }
          times.push_back(createdAt(event));
          fresh.push_back(std::move(event));
        }
        if (overlap) break;
        url = http_paging::nextLink(response.header("Link"), url);
        if (page.size() < static_cast<std::size_t>(perPage_) || url.empty()) endReached = true;
        if (endReached) break;
      }
    } catch (const etl::RateLimitedError&) {
      throw;  // the whole budget: the runner waits for its reset
    } catch (const std::exception& e) {
      // One feed's trouble is not the others': it is tried again in a minute.
      ++feed.failures;
      feed.due = now + std::max(60.0, feed.minSeconds);
      feed.lastPoll = now;
      context_.logger.warning("polling " + feed.path + " failed: " + e.what() +
                              "; trying it again in a minute");
      return;
    }
    // The rate, from what a 200 brought: new events over the time since the last poll, or, the
    // first time, over the span of what the feed holds. A 304 changes nothing kept (effectiveRate
    // lets a feed that went quiet slow down), so it commits no checkpoint.
    if (status == 200) {
      dirty_ = true;
      double sample = -1;
      if (feed.lastPoll > 0) {
        sample = static_cast<double>(fresh.size()) / std::max(1.0, now - feed.lastPoll);
      } else if (times.size() >= 2) {
        sample =
            static_cast<double>(times.size() - 1) / std::max(1.0, times.front() - times.back());
      } else if (times.size() == 1) {
        sample = 1.0 / std::max(3600.0, now - times.front());
      }
      if (sample >= 0 && (!fresh.empty() || feed.lastPoll == 0)) {
        feed.rate = sample > feed.rate ? sample : 0.3 * sample + 0.7 * feed.rate;
      }
    }
    // Nothing seen before was reached, and the feed's window was full: events between the two
    // polls fell off its end (a feed keeps 300). A short feed that holds none of the ids seen
    // before only lost them to age.
    bool full = !endReached || fresh.size() >= 300;
    if (!overlap && full && !fresh.empty() && !feed.recent.empty()) {
      double estimate =
          github::missedEstimate(feed.newestAt, times.back(), times.front(), times.size());
      ++feed.gaps;
      feed.missed += estimate;
      gapCount_.fetch_add(1);
      context_.logger.warning(feed.path + ": no overlap with the last poll; about " +
                              std::to_string(static_cast<int64_t>(std::lround(estimate))) +
                              " event(s) missed (poll it more often, or raise the budget)");
    }
    if (!fresh.empty()) {
      feed.newestAt = std::max(feed.newestAt, times.front());
      feed.lastNewAt = now;
      for (auto it = fresh.rbegin(); it != fresh.rend(); ++it) {
        if (!it->id.empty()) {
          feed.recent.insert(feed.recent.begin(), it->id);
          if (feed.recent.size() > kRecentIds) feed.recent.pop_back();
        }
        out.emplace_back(stream_, std::move(it->raw), it->id);
      }
      feed.captured += static_cast<int64_t>(fresh.size());
      fresh_.fetch_add(static_cast<int64_t>(fresh.size()));
    }
    feed.lastPoll = now;
    feed.due = now + std::max(feed.interval, std::max(minInterval_, feed.minSeconds));
    // A burst: sooner than planned, before the feed's 300 run out.
    double rate = feed.effectiveRate();
    if (rate > 0 && !roundRobin_) {
      feed.due = std::min(feed.due, now + std::max(std::max(minInterval_, feed.minSeconds),
                                                   github::PlanLimits().safePerPoll / rate));
    }
  }

  // Epoch seconds of the event's created_at (0 when unreadable: the sink dead-letters it).
  static double createdAt(const github::PageEvent& event) {
    auto t = etl::parseIsoTime(event.createdAt);
    return t ? seconds(*t) : 0;
  }

  void learnBudget(const etl::HttpResponse& response) {
    try {
      auto limit = response.header("X-RateLimit-Limit");
      auto remaining = response.header("X-RateLimit-Remaining");
      auto reset = response.header("X-RateLimit-Reset");
      if (!limit.empty()) limit_ = std::stod(limit);
      if (!remaining.empty()) remaining_ = std::stod(remaining);
      if (!reset.empty()) resetAt_ = std::stod(reset);
    } catch (const std::exception&) {
    }
  }

  // Every report_interval: a summary line, the per-feed file, the aggregate gauges.
  void report(double now) {
    lastReport_ = now;
    int64_t requests = 0, notModified = 0, captured = 0, behind = 0;
    double missed = 0;
    std::vector<const Feed*> missing;
    std::vector<std::string> falling;  // since the last report: for /health
    for (auto& [path, f] : feeds_) {
      requests += f.requests;
      notModified += f.notModified;
      captured += f.captured;
      missed += f.missed;
      bool late = f.lastPoll > 0 && now - f.lastPoll > 2 * f.interval + 120;
      if (f.gaps > 0 || late || f.gone) ++behind;
      if (f.gaps > 0) missing.push_back(&f);
      if (f.gaps > f.reportedGaps || late || f.gone) {
        falling.push_back(path + (f.gone ? " (gone)"
                                  : late ? " (late)"
                                         : " (missed about " +
                                               std::to_string(static_cast<int64_t>(
                                                   std::lround(f.missed - f.reportedMissed))) +
                                               ")"));
      }
      f.reportedGaps = f.gaps;
      f.reportedMissed = f.missed;
    }
    std::string note;
    for (std::size_t i = 0; i < falling.size() && i < 10; ++i) note += (i ? ", " : "") + falling[i];
    if (falling.size() > 10) note += " and " + std::to_string(falling.size() - 10) + " more";
    context_.health.set(falling.empty()
                            ? ""
                            : std::to_string(falling.size()) +
                                  " feed(s) falling behind since the last report: " + note);
    std::sort(missing.begin(), missing.end(),
              [](const Feed* a, const Feed* b) { return a->missed > b->missed; });
    std::string worst;
    for (std::size_t i = 0; i < missing.size() && i < 5; ++i) {
      worst += (i ? ", " : ": ") + missing[i]->path + " (about " +
               std::to_string(static_cast<int64_t>(std::lround(missing[i]->missed))) + ")";
    }
    context_.logger.information(
        "watching " + std::to_string(feeds_.size()) + " feeds: " + std::to_string(requests) +
        " requests (" + std::to_string(requests ? 100 * notModified / requests : 0) +
        "% answered 304), " + std::to_string(captured) + " events, " +
        std::to_string(missing.size()) + " feed(s) missed events (about " +
        std::to_string(static_cast<int64_t>(std::lround(missed))) + ")" + worst + "; budget " +
        std::to_string(static_cast<int64_t>(std::lround(rps_ * 3600))) + " requests/hour");
    context_.metrics.gauge("github_feeds_behind", {{"pipeline", context_.pipeline}}).store(behind);
    context_.metrics.gauge("github_missed_events_estimate", {{"pipeline", context_.pipeline}})
        .store(static_cast<int64_t>(std::lround(missed)));
    writeReport();
  }

  // Per feed: what a person asks ("is my repository complete?"), as JSON. Written as text, a
  // feed at a time: objects for ten thousand feeds would take megabytes for a moment.
  void writeReport() const {
    if (feeds_.empty()) return;
    std::string text;
    text.reserve(feeds_.size() * 320);  // about a feed's line: not grown (and doubled) by appends
    text += "[";
    char numbers[320];
    for (const auto& [path, f] : feeds_) {
      text += text.size() > 1 ? ",\n {\"feed\": " : "\n {\"feed\": ";
      etl::appendJsonString(text, path);
      text += ", \"last_poll\": ";
      etl::appendJsonString(text, f.lastPoll > 0 ? etl::isoTime(at(f.lastPoll)) : std::string());
      std::snprintf(numbers, sizeof numbers,
                    ", \"events_captured\": %lld, \"requests\": %lld, \"not_modified\": %lld, "
                    "\"failures\": %lld, \"gaps\": %lld, \"missed_estimate\": %lld, "
                    "\"events_per_hour\": %.6g, \"poll_interval_s\": %lld, \"gone\": %s}",
                    static_cast<long long>(f.captured), static_cast<long long>(f.requests),
                    static_cast<long long>(f.notModified), static_cast<long long>(f.failures),
                    static_cast<long long>(f.gaps), static_cast<long long>(std::llround(f.missed)),
                    f.rate * 3600, static_cast<long long>(std::llround(f.interval)),
                    f.gone ? "true" : "false");
      text += numbers;
    }
    text += "\n]\n";
    etl::writeFileAtomically(reportPath_, text, false);
  }

  etl::Context& context_;
  std::string baseUrl_, token_, stream_, host_, watchFile_, reportPath_;
  bool roundRobin_;
  int64_t perPage_, maxPages_;
  double minInterval_, maxInterval_, refresh_, reportEvery_, share_;
  double maxRequests_;  // all requests, 304s included
  etl::Millis timeout_;
  double limit_, remaining_, resetAt_ = 0;
  double rps_ = 1;
  double tokensAt_ = 0, requestsAt_ = 0, lastPlan_ = -1e18, lastRefresh_ = 0, lastReport_ = 0;
  std::size_t planned_ = 0;
  std::vector<std::string> listed_, fileEntries_, queryEntries_;
  std::unique_ptr<sql::ListQuery> query_;
  std::size_t fileHash_ = 0, fileSize_ = 0;  // of the watch file as last read
  double plannedLimit_ = 0;                  // the limit the plan was made for
  std::map<std::string, Feed> feeds_;
  mutable std::string checkpoint_;
  mutable bool dirty_ = true;  // feeds_ changed what checkpoint() holds
  std::atomic<int64_t>&requests_, &notModified_, &fresh_, &gapCount_;
  std::atomic<int64_t>& checkpointBytes_;  // checkpoints built: what the sink writes
};

const etl::ConfigField kSchema[] = {
    {"watch", etl::Type::StringList, etl::Optional, "[]",
     "what to watch: owner/repo, orgs/NAME, users/NAME, or an events path"},
    {"watch_file", etl::Type::String, etl::Optional, "",
     "a file of the same entries, one per line (# comments); read again when its content "
     "changes. The first round polls in list order: list the busiest first"},
    {"watch_query", etl::Type::String, etl::Optional, nullptr,
     "SQL whose first column lists more entries, run on `connection` at every watch_refresh "
     "(e.g. SELECT repo_name FROM push_events WHERE created_at > now() - interval '7 days' "
     "GROUP BY repo_name ORDER BY count(*) DESC: the first round polls in this order)"},
    {"connection", etl::Type::Connection, etl::Optional, nullptr,
     "the database watch_query runs on: a name under connections:, or a URI"},
    {"watch_refresh", etl::Type::Duration, etl::Optional, "1m",
     "how often watch_file and watch_query are looked at", "1s", "24h"},
    {"base_url", etl::Type::String, etl::Optional, "https://api.github.com",
     "API root; GitHub Enterprise: https://HOST/api/v3", nullptr, nullptr, nullptr,
     "^https?://[^/ ]+(/[^ ]*)?$#an http(s) URL (https://api.github.com)"},
    {"token", etl::Type::String, etl::Optional, "",
     "token(s), comma-separated; use ${GITHUB_TOKEN:-}. Never logged"},
    {"stream", etl::Type::String, etl::Optional, "github_events", "stream of the emitted records"},
    {"schedule", etl::Type::String, etl::Optional, "adaptive",
     "adaptive (each feed by its activity) or round_robin (every feed in turn: a baseline)",
     nullptr, nullptr, "adaptive|round_robin"},
    {"budget_share", etl::Type::Double, etl::Optional, "0.8",
     "share of the hourly request limit the schedule may spend (the rest is the enrichment's)",
     "0.01", "1"},
    {"max_requests_per_second", etl::Type::Double, etl::Optional, "10",
     "all requests, 304s included: with a token a 304 costs no quota (the budget counts what "
     "finds something), but every request counts against GitHub's secondary limits",
     "0.01", "100"},
    {"min_poll_interval", etl::Type::Duration, etl::Optional, "60s",
     "never poll a feed sooner (X-Poll-Interval may ask for more)", "1s", "24h"},
    {"max_poll_interval", etl::Type::Duration, etl::Optional, "1h",
     "a quiet feed is polled at least this often while the budget allows", "1m", "7d"},
    {"per_page", etl::Type::Int, etl::Optional, "100", "events per page (GitHub's maximum: 100)",
     "1", "100"},
    {"max_pages", etl::Type::Int, etl::Optional, "3",
     "pages followed per poll while all events are new (a feed holds 300)", "1", "10"},
    {"timeout", etl::Type::Duration, etl::Optional, "30s",
     "the whole of one request: connecting, TLS, headers and body (then it is retried)", "100ms",
     "10m"},
    {"answer_timeout", etl::Type::Duration, etl::Optional, "1m",
     "watch_query's database (PostgreSQL, MariaDB/MySQL): how long the query may wait for the "
     "server's answer; past it the connection is dropped and the query retried",
     "100ms"},
    {"reserve", etl::Type::Double, etl::Optional, "0.2",
     "share of the budget lower-priority plugins (enrichment) may never spend", "0", "1"},
    {"report_interval", etl::Type::Duration, etl::Optional, "10m",
     "how often the per-feed report (state_dir/<pipeline>.feeds.json) and summary are written",
     "1s", "24h"},
    {}};

}  // namespace

ETL_PLUGIN(GitHubWatchSource, "github_watch", etl::Kind::Source, "1.0.0",
           "Every event of a watch list of repositories/orgs/users: one budget, each feed polled "
           "by its activity, ETags, missed-event estimates",
           kSchema)
