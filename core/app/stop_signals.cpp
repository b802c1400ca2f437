#include "stop_signals.h"

#include <Poco/Logger.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>

namespace etl {

namespace {

// SIGUSR2 is etlrun's own: the monitor raises it when every pipeline ended or one failed.
constexpr int kEnded = SIGUSR2;

sigset_t stopSet(bool withEnded) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&set, s);
  if (withEnded) sigaddset(&set, kEnded);
  return set;
}

}  // namespace

void blockStopSignals() {
  sigset_t set = stopSet(true);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int waitForStopSignal() {
  sigset_t set = stopSet(true);
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal == kEnded ? 0 : signal;
}

void wakeForEnd() {
  ::kill(::getpid(), kEnded);
}

std::string signalName(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal " + std::to_string(signal);
  }
}

StopGrace::StopGrace(std::chrono::milliseconds grace, bool bySignal,
                     std::function<int()> exitCode) {
  thread_ = std::thread([this, grace, bySignal, exitCode = std::move(exitCode)] {
    sigset_t set = stopSet(false);
    auto deadline = std::chrono::steady_clock::now() + grace;
    int second = 0;
    bool signalled = bySignal;
    // In slices, so that a drain that ends in time is not held up by this thread.
    while (!dismissed_) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::milliseconds(0)) break;
      auto slice = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(100));
      timespec wait{0, static_cast<long>(slice.count())};
      int signal = sigtimedwait(&set, nullptr, &wait);  // a relative, monotonic wait
      if (signal > 0 && !signalled) {
        signalled = true;
        Poco::Logger::get("etlrun").information(
            "received " + signalName(signal) +
            " while draining (the pipelines had ended); a second signal stops at once");
      } else if (signal > 0) {
        second = signal;
        break;
      }
    }
    if (dismissed_) return;
    int code = exitCode();
    std::string why = second ? "a second " + signalName(second) + " during the drain"
                             : "the drain still waits after " + std::to_string(grace.count()) +
                                   " ms (a peer that does not answer)";
    Poco::Logger::get("etlrun").warning(
        "stopping now: " + why +
        ". Nothing is lost: batches not committed are read again at the next start. Exit " +
        std::to_string(code));
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(code);
  });
}

StopGrace::~StopGrace() {
  dismissed_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace etl
