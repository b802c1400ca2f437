#include "poll_state.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <sstream>

#include "etl/errors.h"
#include "since_order.h"

namespace http_poll {
namespace {

Poco::JSON::Object sinceJson(const SinceMark& mark) {
  Poco::JSON::Object object;
  object.set("value", mark.value);
  Poco::JSON::Array keys;
  for (const auto& key : mark.keys) keys.add(key);
  object.set("keys", keys);
  return object;
}

SinceMark sinceFrom(const Poco::JSON::Object::Ptr& object) {
  SinceMark mark;
  if (!object) return mark;
  mark.value = object->optValue<std::string>("value", "");
  if (auto keys = object->getArray("keys")) {
    for (std::size_t i = 0; i < keys->size(); ++i) {
      mark.keys.push_back(keys->getElement<std::string>(static_cast<unsigned>(i)));
    }
  }
  return mark;
}

}  // namespace

void SinceMark::see(const std::string& since, const std::string& key) {
  if (since.empty()) return;
  int order = value.empty() ? 1 : compareSince(since, value);
  if (order > 0) {
    value = since;
    keys.clear();
  }
  if (order >= 0 && !key.empty() && keys.size() < kMaxSinceKeys &&
      std::find(keys.begin(), keys.end(), key) == keys.end()) {
    keys.push_back(key);
  }
}

bool SinceMark::holds(const std::string& since, const std::string& key) const {
  return !key.empty() && !value.empty() && compareSince(since, value) == 0 &&
         std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string PollState::toJson() const {
  Poco::JSON::Object state;
  state.set("etag", etag);
  state.set("last_modified", lastModified);
  state.set("since", sinceJson(since));
  if (walk.active) {
    Poco::JSON::Object w;
    w.set("next", walk.next);
    w.set("since", sinceJson(walk.since));
    w.set("etag", walk.etag);
    w.set("last_modified", walk.lastModified);
    state.set("walk", w);
  }
  std::ostringstream out;
  state.stringify(out);
  return out.str();
}

PollState PollState::fromJson(const std::string& text) {
  PollState state;
  if (text.empty()) return state;
  try {
    auto root = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
    state.etag = root->optValue<std::string>("etag", "");
    state.lastModified = root->optValue<std::string>("last_modified", "");
    state.since = sinceFrom(root->getObject("since"));
    if (auto w = root->getObject("walk")) {
      state.walk.active = true;
      state.walk.next = w->getValue<std::string>("next");
      if (state.walk.next.empty()) throw etl::CheckpointError("its walk has no next page");
      state.walk.since = sinceFrom(w->getObject("since"));
      state.walk.etag = w->optValue<std::string>("etag", "");
      state.walk.lastModified = w->optValue<std::string>("last_modified", "");
    }
  } catch (const etl::CheckpointError&) {
    throw;
  } catch (const Poco::Exception& e) {
    throw etl::CheckpointError("it is not an http_poll checkpoint (" + e.displayText() + ")");
  } catch (const std::exception& e) {
    throw etl::CheckpointError(std::string("it is not an http_poll checkpoint (") + e.what() + ")");
  }
  return state;
}

}  // namespace http_poll
