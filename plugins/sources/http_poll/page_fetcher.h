// One page of a JSON API through the shared client: the token and headers go to the url's origin
// only (redirects are followed here for that), and the answer is checked and parsed, or refused
// with a message naming the URL (credentials masked, the token and header values cut out).
#pragma once

#include <string>

#include "etl/plugin.h"
#include "json_answer.h"

namespace http_poll {

struct FetchSettings {
  std::string origin;        // scheme://host:port of the configured url: where credentials go
  std::string token;         // "" = none
  etl::HttpHeaders headers;  // the configured ones, Accept included
  etl::Millis timeout{30000};
  std::size_t maxBodyBytes = 0;
  std::string records, nextField;  // dotted paths, see parseAnswer
};

struct Page {
  etl::HttpResponse response;
  std::string url;  // after redirects: relative links are resolved against it
  int status = 0;
  bool notModified = false;  // 304 to a conditional request
  bool gone = false;         // 400, 404 or 410 to a stored page: the API no longer knows it
  Answer answer;
};

struct Validators {
  std::string etag, lastModified;  // "" = not sent
};

class PageFetcher {
 public:
  PageFetcher(FetchSettings settings, etl::Context& context);
  // `validators`: sent as If-None-Match / If-Modified-Since (nullptr: an unconditional request).
  // `stored`: the URL comes from a checkpoint or an earlier poll, so it may be gone. A transient
  // failure throws etl::RetryableError (from the client); any other refusal std::runtime_error.
  Page fetch(std::string url, const Validators* validators, bool stored);

 private:
  etl::HttpRequest requestFor(const std::string& url, const Validators* validators) const;
  std::string quoted(const std::string& body) const;

  FetchSettings settings_;
  etl::Context& context_;
};

}  // namespace http_poll
