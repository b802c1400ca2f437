// How etlrun stops: the signals that ask it to (SIGTERM, SIGINT, SIGQUIT, and SIGHUP, which an
// ssh logout sends to a backfill started by hand) are blocked in every thread and taken by the
// main thread only, so each one is logged and turned into a drain. A drain that does not end
// within its grace (a peer that never answers: a frozen database, a server sending one byte a
// second) ends the process at once: every durable write commits its checkpoint with its data, so
// a batch not committed is simply read again at the next start.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace etl {

// Blocks the stop signals (and the internal "every pipeline ended" one) in the calling thread
// and every thread started after: call first thing in main().
void blockStopSignals();

// Waits for a stop signal, or for wakeForEnd(). Returns the signal number (0 for wakeForEnd).
int waitForStopSignal();
// Wakes waitForStopSignal() without a signal from outside (the pipelines ended by themselves).
void wakeForEnd();

std::string signalName(int signal);

// Started once the drain begins: if it has not been dismissed within `grace` (monotonic time), or
// a second stop signal arrives, logs why and ends the process with `exitCode()`. A drain begun
// because the pipelines ended (`bySignal` false) takes one signal as the first: a service stopped
// just as its work ended is not cut short.
class StopGrace {
 public:
  StopGrace(std::chrono::milliseconds grace, bool bySignal, std::function<int()> exitCode);
  ~StopGrace();  // the drain ended in time: dismissed
  StopGrace(const StopGrace&) = delete;
  StopGrace& operator=(const StopGrace&) = delete;

 private:
  std::atomic<bool> dismissed_{false};
  std::thread thread_;
};

}  // namespace etl
