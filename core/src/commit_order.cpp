#include "commit_order.h"

#include <chrono>

#include "etl/errors.h"

namespace etl {

bool CommitOrder::wait(uint64_t seq, const CommitTurn::Blocking& blocking) {
  // The first look soon (a lock wait is usually there at once), then every 20 ms: the probe is a
  // query on the sink's connection.
  auto interval = std::chrono::milliseconds(2);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (seq >= stopAt_) {
      throw StoppedError("batch " + std::to_string(seq) +
                         " is not committed: an earlier batch was not (the pipeline stops)");
    }
    if (next_ == seq) return true;
    if (!blocking) {
      changed_.wait(lock);
      continue;
    }
    if (changed_.wait_for(lock, interval) == std::cv_status::no_timeout) continue;
    interval = std::chrono::milliseconds(20);
    std::vector<std::string> earlier;
    for (auto it = holders_.begin(); it != holders_.end() && it->first < seq; ++it) {
      earlier.push_back(it->second);
    }
    if (earlier.empty()) continue;
    lock.unlock();
    bool yield = blocking(earlier);
    lock.lock();
    if (yield && next_ != seq) {
      if (yields_) yields_->fetch_add(1);
      return false;
    }
  }
}

void CommitOrder::hold(uint64_t seq, std::string holder) {
  std::lock_guard<std::mutex> lock(mutex_);
  holders_[seq] = std::move(holder);
}

void CommitOrder::committed(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  holders_.erase(seq);
  if (seq == next_) next_ = seq + 1;
  changed_.notify_all();
}

bool CommitOrder::awaitCommitted(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return next_ > seq || seq >= stopAt_; });
  return next_ > seq;
}

void CommitOrder::stopFrom(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (seq < stopAt_) stopAt_ = seq;
  changed_.notify_all();
}

}  // namespace etl
