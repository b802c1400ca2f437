// A blocking FIFO with a fixed capacity: the source waits when it is full (backpressure), so the
// memory a pipeline holds is bounded by capacity x batch size whatever the input size.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

namespace etl {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  // Blocks while full, calling `onFull` as the wait begins (so a stall is visible while it
  // lasts). Returns false when the queue was closed.
  bool push(T item, const std::function<void()>& onFull = {}) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (onFull && items_.size() >= capacity_ && !closed_) onFull();
    notFull_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    notEmpty_.notify_one();
    return true;
  }

  // Blocks while empty; nullopt once closed and drained.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    notEmpty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    notFull_.notify_one();
    return item;
  }

  bool empty() const { return size() == 0; }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

  // No more pushes; pop() drains what is left. `discard` drops queued items (on failure).
  void close(bool discard = false) {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    if (discard) items_.clear();
    notFull_.notify_all();
    notEmpty_.notify_all();
  }

 private:
  std::size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  mutable std::mutex mutex_;
  std::condition_variable notFull_, notEmpty_;
};

}  // namespace etl
