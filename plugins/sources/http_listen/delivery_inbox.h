// Between the HTTP server's threads and the source: a request's record waits here to be read,
// and its sender waits for the answer until the batch holding it has committed (then 200) or for
// at most its deadline (then 503: the sender retries, and the table's key makes a repeat
// harmless). Bounded: when `capacity` requests wait, a new one is refused at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "etl/record.h"

namespace etl_http {

class DeliveryInbox {
 public:
  explicit DeliveryInbox(std::size_t capacity) : capacity_(capacity) {}

  // A request's record; 0 when the inbox is full or closing (answer 503 at once).
  uint64_t put(etl::Record record);
  enum class Outcome { Stored, TimedOut, Closing };
  // Blocks the request's thread until its record committed, `deadline` passed or the inbox closed.
  Outcome await(uint64_t sequence, std::chrono::steady_clock::time_point deadline);

  // The source: records waiting to be read (at most `max`); the last one's sequence number.
  uint64_t take(std::vector<etl::Record>& out, std::size_t max);
  // Every record up to `sequence` is durable: their senders get 200.
  void committed(uint64_t sequence);
  // Stopping: whoever still waits gets 503 (the sender retries later).
  void close();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  const std::size_t capacity_;
  std::deque<std::pair<uint64_t, etl::Record>> queued_;
  std::size_t waiting_ = 0;
  uint64_t next_ = 1, committed_ = 0;
  bool closing_ = false;
};

}  // namespace etl_http
