// What http_poll keeps in its checkpoint, committed with the records it covers: the validators of
// the last answer (for a conditional request), the since value, and a page walk that stopped
// mid-way (a restart goes on from the page after the last one committed).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace http_poll {

// Records whose since value equals the greatest one: the next poll asks from that value (an API's
// "since" usually includes it) and skips these keys. Bounded: past it, repeats reach the sink,
// whose key makes them harmless.
constexpr std::size_t kMaxSinceKeys = 1000;

struct SinceMark {
  std::string value;              // the greatest since_field value seen; "" = none yet
  std::vector<std::string> keys;  // keys of the records holding exactly `value`
  // Takes a record's since value and key into account.
  void see(const std::string& since, const std::string& key);
  // True when a record with this since value and key was seen already.
  bool holds(const std::string& since, const std::string& key) const;
};

struct PollState {
  // Validators of the first answer of the last finished walk: If-None-Match, If-Modified-Since.
  std::string etag, lastModified;
  SinceMark since;  // of every finished walk
  struct Walk {
    bool active = false;
    std::string next;                // the URL of the next page to read
    SinceMark since;                 // what the walk saw so far (taken over when it ends)
    std::string etag, lastModified;  // its first answer's, kept once it ends
  } walk;

  std::string toJson() const;
  // "" is a fresh state; anything else that is not such a state throws etl::CheckpointError.
  static PollState fromJson(const std::string& text);
};

}  // namespace http_poll
