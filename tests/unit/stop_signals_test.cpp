// The drain's grace: what a stop signal during the drain means depends on why the drain began.
#include "stop_signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;

// In a child process (StopGrace ends its process): a drain begun by a signal or by the pipelines'
// end, `signals` SIGTERMs sent to the process during it, a drain that itself takes 600 ms of a 3 s
// grace. Returns the child's exit code: 0 when the drain was let finish.
int drainWith(bool bySignal, int signals) {
  pid_t child = fork();
  if (child == 0) {
    etl::blockStopSignals();
    {
      etl::StopGrace grace(3000ms, bySignal, [] { return 75; });
      for (int i = 0; i < signals; ++i) {
        ::kill(::getpid(), SIGTERM);  // to the process, as a service manager sends it
        std::this_thread::sleep_for(200ms);
      }
      std::this_thread::sleep_for(600ms);
    }
    ::_exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(StopGrace, ASignalDuringADrainBegunByASignalStopsAtOnce) {
  EXPECT_EQ(drainWith(true, 1), 75);
}

// The pipelines ended and the service manager's SIGTERM came while etlrun drained: the same stop,
// not a second one. Seen as exit 75 after a load that had completed.
TEST(StopGrace, TheFirstSignalAfterThePipelinesEndedLetsTheDrainFinish) {
  EXPECT_EQ(drainWith(false, 1), 0);
  EXPECT_EQ(drainWith(false, 2), 75);
}

TEST(StopGrace, ADrainWithinItsGraceEndsNormally) {
  EXPECT_EQ(drainWith(true, 0), 0);
  EXPECT_EQ(drainWith(false, 0), 0);
}

}  // namespace
