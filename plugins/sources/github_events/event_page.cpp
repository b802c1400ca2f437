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
    std::string_view id;
    if (!idParser.iterate(one).get(eventDoc) && !eventDoc["id"].get_string().get(id)) {
      event.id.assign(id.data(), id.size());
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace github
