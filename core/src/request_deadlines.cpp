#include "request_deadlines.h"

#include <sys/socket.h>

#include <algorithm>

namespace etl {

RequestDeadlines::RequestDeadlines() : thread_([this] { watch(); }) {}

RequestDeadlines::~RequestDeadlines() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

RequestDeadlines::Ticket::Ticket(RequestDeadlines& owner, int fd, Steady::time_point deadline,
                                 const StopSignal& stop)
    : owner_(owner) {
  {
    std::lock_guard<std::mutex> lock(owner_.mutex_);
    id_ = owner_.next_++;
    owner_.calls_.emplace(id_, Call{fd, deadline, &stop});
  }
  owner_.changed_.notify_all();
}

// Removed under the lock before the caller may close the socket: the watcher never shuts down a
// descriptor number that has been reused by then.
RequestDeadlines::Ticket::~Ticket() {
  std::lock_guard<std::mutex> lock(owner_.mutex_);
  owner_.calls_.erase(id_);
}

RequestDeadlines::Fired RequestDeadlines::Ticket::fired() const {
  std::lock_guard<std::mutex> lock(owner_.mutex_);
  auto it = owner_.calls_.find(id_);
  return it == owner_.calls_.end() ? Fired::No : it->second.fired;
}

void RequestDeadlines::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!closing_) {
    auto now = Steady::now();
    // A stop is not signalled to this thread: while calls are in flight it looks every 100 ms.
    auto wake = now + std::chrono::hours(1);
    for (auto& [id, call] : calls_) {
      if (call.fired != Fired::No) continue;
      Fired why = call.stop->requested() ? Fired::Stop
                  : now >= call.deadline ? Fired::Deadline
                                         : Fired::No;
      if (why != Fired::No) {
        call.fired = why;
        ::shutdown(call.fd, SHUT_RDWR);
        continue;
      }
      wake =
          std::min({wake, call.deadline, Steady::time_point(now + std::chrono::milliseconds(100))});
    }
    changed_.wait_until(lock, wake);
  }
}

}  // namespace etl
