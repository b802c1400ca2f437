// fake_github: the test server as a standalone program, for trying etlrun by hand.
//   fake_github --fixtures tests/data --port 8080 [--rate-limit 60] [--poll-interval 60]
//               [--publish-every 10] [--publish-count 5]
//               [--redirect-feed-to URL] [--link-feed-to URL]   (hostile: another server's URL)
//               [--world N [--world-hours H] [--token-rate-limit R]]
//     --world: bench_watch's simulated world of N repositories in real time (skewed rates, bursts
//     spread over H hours, an hour of history), for watching a long list with the real etlrun
//     (bench/run-watch-rss.sh); its list is printed to --world-list FILE.
// then: GITHUB_API_URL=http://127.0.0.1:8080 etlrun pipelines/github.yaml
#include <signal.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "event_generator.h"
#include "fake_github.h"
#include "watch_world.h"

int main(int argc, char** argv) {
  std::string fixtures, redirectTo, linkTo;
  std::string worldList;
  int port = 0, rateLimit = 60, pollInterval = 60, publishEvery = 0, publishCount = 5;
  int world = 0, tokenRateLimit = 5000;
  double worldHours = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--fixtures")
      fixtures = value;
    else if (flag == "--port")
      port = std::stoi(value);
    else if (flag == "--rate-limit")
      rateLimit = std::stoi(value);
    else if (flag == "--poll-interval")
      pollInterval = std::stoi(value);
    else if (flag == "--publish-every")
      publishEvery = std::stoi(value);
    else if (flag == "--publish-count")
      publishCount = std::stoi(value);
    else if (flag == "--redirect-feed-to")
      redirectTo = value;
    else if (flag == "--link-feed-to")
      linkTo = value;
    else if (flag == "--world")
      world = std::stoi(value);
    else if (flag == "--world-hours")
      worldHours = std::stod(value);
    else if (flag == "--world-list")
      worldList = value;
    else if (flag == "--token-rate-limit")
      tokenRateLimit = std::stoi(value);
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 64;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  fakegh::FakeGitHub fake(etl::systemClock());
  if (!fixtures.empty()) fake.loadFixtures(fixtures);
  fake.setRateLimit(rateLimit, tokenRateLimit);
  fake.setPollInterval(pollInterval);
  fake.setVerbose(world == 0);  // a world answers thousands of requests a minute
  if (world > 0) {
    auto repos = etltest::watchWorld(static_cast<std::size_t>(world), worldHours);
    if (!worldList.empty()) {
      std::ofstream list(worldList);
      for (const auto& r : repos.repos) list << r.name << "\n";
    }
    fake.simulateWorld(repos.repos, std::chrono::hours(1));
  }
  if (!redirectTo.empty()) fake.redirectFeedTo(redirectTo);
  if (!linkTo.empty()) fake.linkFeedTo(linkTo);
  if (publishEvery > 0 && !fixtures.empty()) {
    fake.autoPublish(etltest::templateEvents(fixtures), etl::Millis(publishEvery * 1000),
                     publishCount);
  }
  fake.start(static_cast<unsigned short>(port));
  std::cout << "fake GitHub listening on " << fake.baseUrl() << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  fake.stop();
  return 0;
}
