// http_poll: polls any JSON HTTP API through the shared quota-aware client.
//
// A poll is a walk over the API's pages: the first page (with the since parameter, and the last
// answer's validators, so an unchanged answer is a free 304), then the next ones as the Link
// header or a field of the body names them, at most max_pages per poll. Each page is handed to the
// runner on its own (Status::More), so the checkpoint committed with a page's records says where
// the walk stands: after kill -9 a restart reads on from the page after the last committed one.
// Once a walk has ended, the greatest since value it saw becomes the next walk's since parameter.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>

#include "etl/sdk.h"
#include "link_header.h"
#include "page_fetcher.h"
#include "page_urls.h"
#include "poll_state.h"

namespace {

// The configured headers: a map of names to single values (${VAR} already substituted).
etl::HttpHeaders headersOf(const etl::Config& config) {
  etl::HttpHeaders headers;
  if (!config.has("headers")) return headers;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(config.location("headers") + ": " + what);
  };
  Poco::JSON::Object::Ptr object;
  try {
    object = Poco::JSON::Parser()
                 .parse(config.getDocument("headers"))
                 .extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    fail("headers must be a map of header names to values (Accept: application/json)");
  }
  for (const auto& [name, value] : *object) {
    if (value.isEmpty() || value.isStruct() || value.isArray()) {
      fail("header " + name + " must have a single value");
    }
    // X-Api-Key: ${API_KEY:-} with the variable unset: no header rather than an empty one.
    std::string text = value.convert<std::string>();
    if (!text.empty()) headers.emplace_back(name, text);
  }
  return headers;
}

// Headers the source sends itself, or the client does: set here they would fight over them.
bool reservedHeader(const std::string& name) {
  for (const char* own : {"If-None-Match", "If-Modified-Since", "Host", "Content-Length"}) {
    if (Poco::icompare(name, std::string(own)) == 0) return true;
  }
  return false;
}

class HttpPollSource : public etl::Source {
 public:
  // Which collection it reads: another's since value and page walk are not resumed from.
  static constexpr const char* kIdentity[] = {"url", "records", nullptr};

  HttpPollSource(const etl::Config& config, etl::Context& context)
      : context_(context),
        url_(config.getString("url")),
        stream_(config.getString("stream")),
        keyField_(optional(config, "key_field")),
        pagination_(config.getString("pagination")),
        cursorParam_(optional(config, "cursor_param")),
        sinceParam_(optional(config, "since_param")),
        sinceField_(optional(config, "since_field")),
        tokenGiven_(!Poco::trim(optional(config, "token")).empty()),
        maxPages_(config.getInt("max_pages")),
        interval_(config.getDuration("interval")),
        conditional_(config.getBool("conditional")),
        fetcher_(fetchSettings(config), context) {
    check(config);
  }

  // Keys that depend on each other, checked by `etlrun validate` too.
  static void check(const etl::Config& config) {
    auto fail = [&](const std::string& key, const std::string& what) {
      throw std::runtime_error(config.location(key) + ": " + what);
    };
    const std::string& pagination = config.getString("pagination");
    if (pagination == "next_field" && optional(config, "next_field").empty()) {
      fail("pagination",
           "pagination: next_field needs next_field, the path of the next page's "
           "URL or cursor in the answer");
    }
    for (const char* key : {"next_field", "cursor_param"}) {
      if (config.has(key) && pagination != "next_field") {
        fail(key, std::string(key) + " applies to pagination: next_field only");
      }
    }
    if (config.has("since_param") != config.has("since_field")) {
      const char* set = config.has("since_param") ? "since_param" : "since_field";
      fail(set,
           "since_param and since_field go together: the query parameter, and the records' "
           "field whose greatest value it sends");
    }
    etl::HttpHeaders headers = headersOf(config);
    for (const auto& [name, value] : headers) {
      if (reservedHeader(name)) fail("headers", "header " + name + " is set by http_poll itself");
      if (Poco::icompare(name, std::string("Authorization")) == 0 &&
          !Poco::trim(optional(config, "token")).empty()) {
        fail("headers", "set either token or an Authorization header, not both");
      }
    }
  }

  void open(const std::string& checkpoint) override {
    state_ = http_poll::PollState::fromJson(checkpoint);
    std::string how = tokenGiven_ ? " with a token" : "";
    if (state_.walk.active) {
      context_.logger.information("polling " + http_poll::redactedUrl(url_) + how +
                                  "; resuming a page walk at " +
                                  http_poll::redactedUrl(state_.walk.next));
      resumedWalk_ = true;
    } else {
      context_.logger.information(
          "polling " + http_poll::redactedUrl(url_) + how +
          (state_.since.value.empty() ? "" : "; " + sinceParam_ + " = " + state_.since.value));
    }
  }

  Poll poll(std::vector<etl::Record>& out, std::size_t) override {
    etl::TimePoint now = context_.clock.now();
    // The clock stepped back since the poll was scheduled: never wait longer than an interval.
    nextPollAt_ = etl::clampAhead(nextPollAt_, now, interval_);
    if (now < nextPollAt_) return {Status::Idle, nextPollAt_};
    if (!state_.walk.active) startWalk();
    // The walk's first page, asked for conditionally; a resumed walk's pages are not.
    const bool first = !resumedWalk_ && pagesThisWalk_ == 0;
    const http_poll::Validators validators{state_.etag, state_.lastModified};
    http_poll::Page page = fetcher_.fetch(
        state_.walk.next, first && conditional_ ? &validators : nullptr, resumedWalk_);
    if (page.notModified) {
      context_.metrics.counter(context_.pipeline + ".http_poll_not_modified").fetch_add(1);
      context_.logger.debug("nothing new (304 Not Modified)");
      state_.walk = {};  // nothing was read: the state stays as it was
      return idle(now);
    }
    if (page.gone) {
      // A stored next page (a cursor) the API no longer knows: the walk starts again from the
      // first page. What is read twice is the sink's key's to skip.
      context_.logger.warning("the page walk's next page " +
                              http_poll::redactedUrl(state_.walk.next) + " answered HTTP " +
                              std::to_string(page.status) + ": walking again from the first page");
      resumedWalk_ = false;
      startWalk();
      return {Status::More, {}};
    }
    if (first) {
      state_.walk.etag = page.response.header("ETag");
      state_.walk.lastModified = page.response.header("Last-Modified");
    }
    walkRecords_ += emit(page.answer.records, out);
    resumedWalk_ = false;
    ++pagesThisWalk_;
    ++pagesThisPoll_;
    std::string next = nextPage(page);
    // A page without records ends the walk too (APIs that always name a next page), and so does a
    // next page that is this one again.
    if (next.empty() || page.answer.records.empty() || next == page.url) {
      finishWalk();
      return idle(now);
    }
    state_.walk.next = next;
    if (pagesThisPoll_ >= maxPages_) {
      context_.logger.warning("read max_pages (" + std::to_string(maxPages_) +
                              ") pages this poll: the walk goes on from " +
                              http_poll::redactedUrl(next) + " at the next poll");
      resumedWalk_ = true;  // a cursor may expire meanwhile
      return idle(now);
    }
    return {Status::More, {}};
  }

  std::string checkpoint() const override {
    // A walk that has read no page yet (its first request failed and is retried) is no place to
    // resume from: the state stays as the last poll left it, and nothing new is committed.
    if (state_.walk.active && pagesThisWalk_ == 0 && !resumedWalk_) {
      http_poll::PollState before = state_;
      before.walk = {};
      return before.toJson();
    }
    return state_.toJson();
  }

 private:
  static std::string optional(const etl::Config& config, const std::string& key) {
    return config.has(key) ? config.getString(key) : std::string();
  }

  static http_poll::FetchSettings fetchSettings(const etl::Config& config) {
    http_poll::FetchSettings settings;
    settings.origin = etl::originOf(config.getString("url"));
    settings.token = Poco::trim(optional(config, "token"));
    settings.headers = headersOf(config);
    bool accept = std::any_of(settings.headers.begin(), settings.headers.end(), [](const auto& h) {
      return Poco::icompare(h.first, std::string("Accept")) == 0;
    });
    if (!accept) settings.headers.emplace_back("Accept", "application/json");
    settings.timeout = config.getDuration("timeout");
    settings.maxBodyBytes = static_cast<std::size_t>(config.getInt("max_body_bytes"));
    settings.records = config.getString("records");
    settings.nextField = optional(config, "next_field");
    return settings;
  }

  std::string firstPageUrl() const {
    if (sinceParam_.empty() || state_.since.value.empty()) return url_;
    return http_poll::withQueryParameter(url_, sinceParam_, state_.since.value);
  }

  void startWalk() {
    state_.walk = {};
    state_.walk.active = true;
    state_.walk.next = firstPageUrl();
    state_.walk.since = state_.since;
    pagesThisWalk_ = 0;
    walkRecords_ = 0;
  }

  // The walk read its last page: its since value and first answer's validators are the state now.
  // An unchanged first page means nothing new only when it held everything the walk read, or
  // began at the since value; otherwise (an API listing oldest first) new records may change only
  // later pages, so the next walk asks without validators.
  void finishWalk() {
    state_.since = state_.walk.since;
    const bool firstPageTells = !sinceParam_.empty() || pagesThisWalk_ == 1;
    state_.etag = firstPageTells ? state_.walk.etag : "";
    state_.lastModified = firstPageTells ? state_.walk.lastModified : "";
    // A quiet API polled often would fill the log with nothing: empty polls only at debug.
    std::string line = std::to_string(walkRecords_) + " record(s) from " +
                       std::to_string(pagesThisWalk_) + " page(s); next poll in " +
                       std::to_string(interval_.count() / 1000) + " s";
    if (walkRecords_ > 0) {
      context_.logger.information(line);
    } else {
      context_.logger.debug(line);
    }
    state_.walk = {};
  }

  Poll idle(etl::TimePoint now) {
    pagesThisPoll_ = 0;
    nextPollAt_ = now + interval_;
    return {Status::Idle, nextPollAt_};
  }

  // Where the walk goes after `page`: "" at its end.
  std::string nextPage(const http_poll::Page& page) const {
    if (pagination_ == "link") return http_paging::nextLink(page.response.header("Link"), page.url);
    if (pagination_ != "next_field" || !page.answer.next) return {};
    const std::string& next = *page.answer.next;
    if (!cursorParam_.empty()) {
      // A cursor: the first page's request again, with the cursor in its parameter.
      return http_poll::withQueryParameter(firstPageUrl(), cursorParam_, next);
    }
    return Poco::URI(Poco::URI(page.url), next).toString();  // a URL, perhaps relative
  }

  std::size_t emit(std::vector<std::string>& raws, std::vector<etl::Record>& out) {
    std::size_t emitted = 0, skipped = 0, keyless = 0, sinceless = 0;
    for (auto& raw : raws) {
      etl::Record record(stream_, std::move(raw));
      std::string key = fieldText(record, keyField_);
      if (!keyField_.empty()) {
        if (key.empty()) ++keyless;
        record.setKey(key);
      }
      if (!sinceField_.empty()) {
        std::string since = fieldText(record, sinceField_);
        if (since.empty()) {
          ++sinceless;
        } else if (state_.since.holds(since, key)) {
          ++skipped;  // the since parameter includes its own value: seen at the last walk's end
          continue;
        } else {
          state_.walk.since.see(since, key);
        }
      }
      out.push_back(std::move(record));
      ++emitted;
    }
    context_.metrics.counter(context_.pipeline + ".http_poll_records")
        .fetch_add(static_cast<int64_t>(emitted));
    if (keyless) {
      context_.logger.warning(std::to_string(keyless) + " record(s) without key_field '" +
                              keyField_ + "': stored with an empty key");
    }
    if (sinceless) {
      context_.logger.warning(std::to_string(sinceless) + " record(s) without since_field '" +
                              sinceField_ + "': they do not move the since value");
    }
    if (skipped) {
      context_.logger.debug(std::to_string(skipped) +
                            " record(s) at the since value already read at the last poll");
    }
    return emitted;
  }

  // A field as text ("" when missing, null, or the record is not an object).
  static std::string fieldText(const etl::Record& record, const std::string& path) {
    if (path.empty()) return {};
    try {
      return record.text(path).value_or("");
    } catch (const etl::FieldError&) {
      return {};
    }
  }

  etl::Context& context_;
  const std::string url_, stream_, keyField_, pagination_, cursorParam_, sinceParam_, sinceField_;
  const bool tokenGiven_;
  const int64_t maxPages_;
  const etl::Millis interval_;
  const bool conditional_;
  http_poll::PageFetcher fetcher_;
  http_poll::PollState state_;
  // The walk's next page was stored (in the checkpoint, or by a poll that read max_pages), not just
  // named by the page before: it may be gone by now.
  bool resumedWalk_ = false;
  int64_t pagesThisWalk_ = 0, pagesThisPoll_ = 0;
  std::size_t walkRecords_ = 0;
  etl::TimePoint nextPollAt_{};
};

const etl::ConfigField kSchema[] = {
    {"url", etl::Type::String, etl::Required, nullptr,
     "the first page's URL (http or https; a query string is kept). 5xx, 429, timeouts and lost "
     "connections are retried with backoff; another 4xx, or an answer that is not JSON, stops the "
     "pipeline naming the URL. Logged and kept in the checkpoint: put credentials in token or "
     "headers, not here",
     nullptr, nullptr, nullptr, "^https?://[^/ ]+(/[^ ]*)?$#an http(s) URL (https://host/path)"},
    {"records", etl::Type::String, etl::Optional, "",
     "dotted path to the array of records in each answer (items, data.results); empty: the answer "
     "is the array, or one object is one record. A missing path, or one that is not an array, "
     "stops the pipeline; an element that is not an object is still a record"},
    {"stream", etl::Type::String, etl::Optional, "http_poll", "stream of the emitted records"},
    {"key_field", etl::Type::String, etl::Optional, nullptr,
     "dotted path in each record whose value becomes the record's key (give the sink's table a "
     "key: a page read again after a failure is then stored once)"},
    {"interval", etl::Type::Duration, etl::Optional, "60s",
     "how long to wait after a poll has read everything (or max_pages) before the next", "1s",
     "24h"},
    {"timeout", etl::Type::Duration, etl::Optional, "30s",
     "the whole of one request: connecting, TLS, headers and body (then it is retried)", "100ms",
     "10m"},
    {"headers", etl::Type::Document, etl::Optional, nullptr,
     "request headers, a map of name: value (X-Api-Key: ${API_KEY}); sent to the url's origin "
     "only (but Accept, application/json unless set), never logged; one whose value is empty is "
     "not sent"},
    {"token", etl::Type::String, etl::Optional, nullptr,
     "a bearer token (Authorization: Bearer ...), e.g. ${API_TOKEN:-}: sent to the url's origin "
     "only, never to another a redirect or link names; never logged or stored"},
    {"pagination", etl::Type::String, etl::Optional, "none",
     "how a poll finds the next page: link (the Link header's rel=\"next\", RFC 8288), "
     "next_field (a field of the answer), none. A poll ends at a page without a next one, or "
     "without records",
     nullptr, nullptr, "none|link|next_field"},
    {"next_field", etl::Type::String, etl::Optional, nullptr,
     "pagination: next_field: dotted path in the answer to the next page's URL (absolute or "
     "relative), or with cursor_param its cursor; null, empty, false or missing: the last page"},
    {"cursor_param", etl::Type::String, etl::Optional, nullptr,
     "pagination: next_field: the query parameter the cursor goes into, on the first page's URL"},
    {"max_pages", etl::Type::Int, etl::Optional, "100",
     "the most pages one poll reads; a longer walk goes on from where it stopped at the next poll "
     "(the place is in the checkpoint)",
     "1", "1000000"},
    {"since_param", etl::Type::String, etl::Optional, nullptr,
     "query parameter sent with the greatest since_field value read so far (kept in the "
     "checkpoint), so that a poll asks for newer records only"},
    {"since_field", etl::Type::String, etl::Optional, nullptr,
     "dotted path in each record to the value since_param sends: integers compare as numbers, "
     "other values as text (ISO 8601 times of one format). Records at exactly the last value "
     "with a key already read are skipped"},
    {"conditional", etl::Type::Bool, etl::Optional, "true",
     "send If-None-Match / If-Modified-Since from the last poll's first answer, when that page "
     "shows any change (with since_param, or when the last poll read one page): a 304 ends the "
     "poll with nothing to store. false: for an API whose validators do not change with the "
     "content"},
    {"max_body_bytes", etl::Type::Int, etl::Optional, "67108864",
     "the largest answer read (64 MiB); a larger one stops the pipeline, naming the URL", "1024",
     "1073741824"},
    {}};

}  // namespace

ETL_PLUGIN(HttpPollSource, "http_poll", etl::Kind::Source, "1.0.0",
           "Polls any JSON HTTP API: records at a path, Link or next-field pagination, ETag/304, "
           "an incremental since parameter, resumable page walks",
           kSchema)
