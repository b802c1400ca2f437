#include "etl/clock.h"

#include <algorithm>

namespace etl {

void StopSignal::request() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requested_ = true;
  }
  cv_.notify_all();
}

bool StopSignal::waitUntil(TimePoint deadline) const {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_until(lock, deadline, [this] { return requested_.load(); });
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

}  // namespace etl
