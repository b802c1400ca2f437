// etl/clock.h: time as the plugins see it. Injectable, so tests of time-driven behaviour (poll
// intervals, rate-limit resets, cache TTLs) run a simulated hour in milliseconds without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace etl {

using Clock_ = std::chrono::system_clock;
using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

// Raised once when the process is asked to stop (SIGTERM/SIGINT, or --once finished). Waits on it
// wake up at once, so no plugin holds a shutdown hostage.
class StopSignal {
 public:
  void request();
  bool requested() const { return requested_.load(); }
  // Waits until `deadline` or a stop request; returns false when stopped. The length of the wait
  // is fixed when it begins (deadline - now) and measured on the monotonic clock.
  bool waitUntil(TimePoint deadline) const;

 private:
  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Sleeps until `deadline` or until `stop` is requested. Returns false if stopped. The real
  // clock sleeps for (deadline - now) on the monotonic clock: a wall clock step does not stretch
  // it. Times a plugin keeps (in a checkpoint, a cache, a budget) are wall times: a plugin checks
  // them against how far ahead they can sensibly be (see etl::clampAhead).
  virtual bool sleepUntil(TimePoint deadline, const StopSignal& stop) = 0;
};

// The real wall clock.
Clock& systemClock();

// `t`, or `now + limit` when `t` lies further ahead: a time written while the clock was ahead (a
// next poll, a reset, a Retry-After from a broken proxy) must not hold anything up for longer
// than it could sensibly mean. Sets `clamped` when it did.
inline TimePoint clampAhead(TimePoint t, TimePoint now, Millis limit, bool* clamped = nullptr) {
  bool beyond = t > now + limit;
  if (clamped) *clamped = beyond;
  return beyond ? now + limit : t;
}

// ISO 8601 UTC with milliseconds ("2026-01-12T17:54:01.000Z"): the one timestamp format etlrun
// writes, which PostgreSQL's timestamptz reads and SQLite compares as text.
std::string isoTime(TimePoint t);
// The other way: "2026-01-12T17:54:01Z", with or without milliseconds (UTC); nullopt if malformed.
std::optional<TimePoint> parseIsoTime(const std::string& text);

// Virtual time for tests: starts at a given instant; sleeping jumps straight to the deadline.
class ManualClock : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  bool sleepUntil(TimePoint deadline, const StopSignal& stop) override;
  void advance(Millis by) { now_ += std::chrono::duration_cast<TimePoint::duration>(by).count(); }

 private:
  std::atomic<TimePoint::rep> now_;
};

}  // namespace etl
