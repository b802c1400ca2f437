// One page of GitHub's events API: a JSON array of event objects, each kept byte for byte.
#pragma once

#include <string>
#include <vector>

namespace github {

struct PageEvent {
  std::string id;   // empty when the event has no usable id
  std::string raw;  // the event's JSON exactly as GitHub sent it
};

// Throws std::runtime_error when the body is not a JSON array of objects.
std::vector<PageEvent> parseEventPage(const std::string& body);

}  // namespace github
