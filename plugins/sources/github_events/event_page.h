// One page of GitHub's events API: a JSON array of event objects, each kept byte for byte.
#pragma once

#include <string>
#include <vector>

#include "etl/http.h"

namespace github {

struct PageEvent {
  std::string id;         // empty when the event has no usable id
  std::string createdAt;  // as GitHub wrote it; empty when absent
  std::string raw;        // the event's JSON exactly as GitHub sent it
};

// Throws std::runtime_error when the body is not a JSON array of objects.
std::vector<PageEvent> parseEventPage(const std::string& body);

// The request for a page of an events feed: the token for `baseUrl`'s origin only (a Link or a
// redirect elsewhere goes without it), GitHub's media type, high priority on the shared budget.
etl::HttpRequest eventsRequest(const std::string& url, const std::string& token,
                               const std::string& baseUrl, etl::Millis timeout);
// The host of an API root, for the client's per-host budget: https://h:8443/api/v3 -> h.
std::string hostOf(const std::string& baseUrl);

}  // namespace github
