// Total deadlines for outside calls that a library performs with blocking reads. A socket
// timeout bounds each read, not the call: a server that sends one byte a second, or a header
// line every few seconds, keeps a request alive forever; a TLS handshake that is never answered
// waits for good. One thread watches every call in flight and, when its deadline passes or the
// process is asked to stop, shuts its socket down (shutdown(2), not close: the descriptor stays
// the caller's), which ends whatever read or write the caller is blocked in with an error.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "etl/clock.h"

namespace etl {

class RequestDeadlines {
 public:
  using Steady = std::chrono::steady_clock;
  enum class Fired { No, Deadline, Stop };

  RequestDeadlines();
  ~RequestDeadlines();
  RequestDeadlines(const RequestDeadlines&) = delete;
  RequestDeadlines& operator=(const RequestDeadlines&) = delete;

  // One call in flight on socket `fd`, watched from construction to destruction. The socket must
  // stay open (not closed, not replaced) for as long as the ticket lives.
  class Ticket {
   public:
    Ticket(RequestDeadlines& owner, int fd, Steady::time_point deadline, const StopSignal& stop);
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Fired fired() const;

   private:
    RequestDeadlines& owner_;
    uint64_t id_;
  };

 private:
  struct Call {
    int fd;
    Steady::time_point deadline;
    const StopSignal* stop;
    Fired fired = Fired::No;
  };
  void watch();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint64_t, Call> calls_;
  uint64_t next_ = 0;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace etl
