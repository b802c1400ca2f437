#include "etl/clock.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace etl {

void StopSignal::request() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requested_ = true;
  }
  cv_.notify_all();
}

// The wait is measured on the monotonic clock: a wall clock stepped back an hour (NTP, a restored
// VM) during the wait must not make it an hour longer. The deadline is turned into a length once.
bool StopSignal::waitUntil(TimePoint deadline) const {
  auto end = std::chrono::steady_clock::now() + (deadline - Clock_::now());
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_until(lock, end, [this] { return requested_.load(); });
  return !requested_;
}

namespace {
class SystemClock : public Clock {
 public:
  TimePoint now() const override { return Clock_::now(); }
  bool sleepUntil(TimePoint deadline, const StopSignal& stop) override {
    return stop.waitUntil(deadline);
  }
};
}  // namespace

Clock& systemClock() {
  static SystemClock clock;
  return clock;
}

bool ManualClock::sleepUntil(TimePoint deadline, const StopSignal& stop) {
  auto target = deadline.time_since_epoch().count();
  auto current = now_.load();
  while (current < target && !now_.compare_exchange_weak(current, target)) {
  }
  return !stop.requested();
}

std::optional<TimePoint> parseIsoTime(const std::string& text) {
  std::tm utc{};
  int ms = 0;
  int fields = std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%d", &utc.tm_year, &utc.tm_mon,
                           &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &ms);
  if (fields < 6) return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return TimePoint(std::chrono::seconds(timegm(&utc)) + std::chrono::milliseconds(ms));
}

std::string isoTime(TimePoint t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  int millis = static_cast<int>(((ms % 1000) + 1000) % 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[80];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return buffer;
}

}  // namespace etl
