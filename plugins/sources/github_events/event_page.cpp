#include "event_page.h"

#include <simdjson.h>

#include <stdexcept>

namespace github {

std::vector<PageEvent> parseEventPage(const std::string& body) {
  simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::array array;
  auto error = parser.iterate(padded).get(doc);
  if (!error) error = doc.get_array().get(array);
  if (error) {
    throw std::runtime_error(std::string("events page is not a JSON array: ") +
                             simdjson::error_message(error));
  }
  std::vector<PageEvent> events;
  simdjson::ondemand::parser idParser;  // the outer parser is still walking the page
  for (auto element : array) {
    simdjson::ondemand::object object;
    std::string_view raw;
    if ((error = element.get_object().get(object)) || (error = object.raw_json().get(raw))) {
      throw std::runtime_error(std::string("malformed event in page: ") +
                               simdjson::error_message(error));
    }
    PageEvent event;
    event.raw.assign(raw.data(), raw.size());
    // The id is read from the event's own bytes (raw_json consumed the object).
    simdjson::padded_string one(event.raw);
    simdjson::ondemand::document eventDoc;
    std::string_view id, created;
    if (!idParser.iterate(one).get(eventDoc)) {
      if (!eventDoc["id"].get_string().get(id)) event.id.assign(id.data(), id.size());
      if (!eventDoc["created_at"].get_string().get(created)) {
        event.createdAt.assign(created.data(), created.size());
      }
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace github

namespace github {

etl::HttpRequest eventsRequest(const std::string& url, const std::string& token,
                               const std::string& baseUrl, etl::Millis timeout) {
  etl::HttpRequest request;
  request.url = url;
  request.token = token;
  request.credentialOrigin = baseUrl;
  request.headers.emplace_back("Accept", "application/vnd.github+json");
  request.timeout = timeout;
  request.priority = etl::Priority::High;
  return request;
}

std::string hostOf(const std::string& baseUrl) {
  std::size_t scheme = baseUrl.find("://");
  std::string host = baseUrl.substr(scheme == std::string::npos ? 0 : scheme + 3);
  return host.substr(0, host.find_first_of(":/"));
}

}  // namespace github
