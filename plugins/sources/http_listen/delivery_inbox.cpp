#include "delivery_inbox.h"

namespace etl_http {

uint64_t DeliveryInbox::put(etl::Record record) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closing_ || waiting_ >= capacity_) return 0;
  ++waiting_;
  uint64_t sequence = next_++;
  queued_.emplace_back(sequence, std::move(record));
  return sequence;
}

DeliveryInbox::Outcome DeliveryInbox::await(uint64_t sequence,
                                            std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  bool done =
      changed_.wait_until(lock, deadline, [&] { return committed_ >= sequence || closing_; });
  --waiting_;
  if (committed_ >= sequence) return Outcome::Stored;
  return done ? Outcome::Closing : Outcome::TimedOut;
}

uint64_t DeliveryInbox::take(std::vector<etl::Record>& out, std::size_t max) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t last = 0;
  for (std::size_t n = 0; n < max && !queued_.empty(); ++n) {
    last = queued_.front().first;
    out.push_back(std::move(queued_.front().second));
    queued_.pop_front();
  }
  return last;
}

void DeliveryInbox::committed(uint64_t sequence) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (sequence <= committed_) return;
    committed_ = sequence;
  }
  changed_.notify_all();
}

void DeliveryInbox::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
}

}  // namespace etl_http
