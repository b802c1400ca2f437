#include "page_fetcher.h"

#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>

#include "page_urls.h"

namespace http_poll {
namespace {

bool isAccept(const std::string& name) {
  return Poco::icompare(name, std::string("Accept")) == 0;
}

}  // namespace

PageFetcher::PageFetcher(FetchSettings settings, etl::Context& context)
    : settings_(std::move(settings)), context_(context) {}

etl::HttpRequest PageFetcher::requestFor(const std::string& url,
                                         const Validators* validators) const {
  etl::HttpRequest request;
  request.url = url;
  request.token = settings_.token;
  request.credentialOrigin = settings_.origin;  // the client sends the token there only
  request.timeout = settings_.timeout;
  request.maxBodyBytes = settings_.maxBodyBytes;
  request.priority = etl::Priority::High;
  request.forbiddenMayBeRateLimit = false;  // 403 is "forbidden" here; limits come as 429
  // Redirects are followed by fetch(), not by the client, so that the configured headers (an API
  // key among them) go to the url's origin only, as the token does.
  request.followRedirects = false;
  const bool ownOrigin = etl::originOf(url) == settings_.origin;
  for (const auto& header : settings_.headers) {
    // Accept says nothing secret; any other header may hold a key.
    if (ownOrigin || isAccept(header.first)) request.headers.push_back(header);
  }
  if (validators) {
    if (!validators->etag.empty()) request.headers.emplace_back("If-None-Match", validators->etag);
    if (!validators->lastModified.empty()) {
      request.headers.emplace_back("If-Modified-Since", validators->lastModified);
    }
  }
  return request;
}

Page PageFetcher::fetch(std::string url, const Validators* validators, bool stored) {
  Page page;
  for (int redirects = 0;; ++redirects) {
    page.response = context_.http.get(requestFor(url, validators), context_.stop);
    context_.metrics.counter(context_.pipeline + ".http_poll_requests").fetch_add(1);
    int status = page.response.status;
    std::string location = page.response.header("Location");
    bool redirect =
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (!redirect || location.empty()) break;
    if (redirects == 5) {
      throw std::runtime_error("GET " + redactedUrl(url) + ": more than 5 redirects");
    }
    url = Poco::URI(Poco::URI(url), location).toString();
  }
  page.url = url;
  page.status = page.response.status;
  if (page.status == 304 && validators) {
    page.notModified = true;
    return page;
  }
  if (stored && (page.status == 400 || page.status == 404 || page.status == 410)) {
    page.gone = true;
    return page;
  }
  const std::string& body = page.response.body;
  if (page.status < 200 || page.status >= 300) {
    // 5xx and 429 never get here (the client makes them retryable); the rest will not heal by
    // waiting: a wrong URL, a refused request. The answer's start often says why.
    throw std::runtime_error("GET " + redactedUrl(url) + " answered HTTP " +
                             std::to_string(page.status) +
                             (body.empty() ? "" : ": " + quoted(body)));
  }
  if (page.status == 204) return page;  // no content: no records
  try {
    page.answer = parseAnswer(body, settings_.records, settings_.nextField);
  } catch (const AnswerError& e) {
    throw std::runtime_error("GET " + redactedUrl(url) + ": " + e.what() + " (" +
                             std::to_string(body.size()) + " bytes" +
                             (body.empty() ? "" : ", starting " + quoted(body)) + ")");
  }
  return page;
}

// The start of an answer for a message, with the credentials cut out in case the server echoes
// them.
std::string PageFetcher::quoted(const std::string& body) const {
  // Scrubbed before it is cut: a secret across the cut would leave its first characters.
  std::string text = body.substr(0, 1024);
  for (auto& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  auto scrub = [&](const std::string& secret) {
    if (secret.size() < 4) return;
    for (std::size_t at; (at = text.find(secret)) != std::string::npos;) {
      text.replace(at, secret.size(), "***");
    }
  };
  scrub(settings_.token);
  for (const auto& header : settings_.headers) {
    if (!isAccept(header.first)) scrub(header.second);
  }
  bool cut = body.size() > 200;
  text.resize(std::min<std::size_t>(text.size(), 200));
  return "'" + text + (cut ? "...'" : "'");
}

}  // namespace http_poll
