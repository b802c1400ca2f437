// Peers that never finish, and a stop that must not wait for them. Servers of the test's own (raw
// sockets: they misbehave on purpose) send an answer one byte a second, a header line every two
// seconds, or nothing at all (to plain HTTP and to a TLS handshake); a PostgreSQL is frozen with
// SIGSTOP in the middle of a load. Each request has a total deadline, and SIGTERM ends etlrun
// within 5 s in every case, with nothing lost: a restart stores exactly what was not committed.
#include <Poco/Logger.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "etl/errors.h"
#include "event_generator.h"
#include "pg_session.h"
#include "postgres_env.h"
#include "test_env.h"

using namespace std::chrono_literals;

namespace {

enum class Behaviour {
  DripBody,     // headers promising 100,000 bytes, then one byte a second
  DripHeaders,  // a status line, then one header line every two seconds, never the end
  Silent,       // reads the request (or the TLS hello) and never answers
};

class HostileServer {
 public:
  explicit HostileServer(Behaviour behaviour) : behaviour_(behaviour) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 16) != 0) {
      throw std::runtime_error("cannot listen");
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptAll(); });
  }

  ~HostileServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (auto& t : connections_) t.join();
  }

  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  void acceptAll() {
    while (!stopping_) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  // Sends `text`; false once the client has gone (or the test ends).
  bool send(int fd, const std::string& text) {
    return !stopping_ &&
           ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }

  void serve(int fd) {
    char buffer[4096];
    (void)::recv(fd, buffer, sizeof buffer, 0);  // the request, or a TLS client hello
    auto pause = [&](std::chrono::milliseconds total) {
      for (auto waited = 0ms; waited < total && !stopping_; waited += 50ms) {
        std::this_thread::sleep_for(50ms);
      }
    };
    switch (behaviour_) {
      case Behaviour::DripBody:
        if (!send(fd,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100000\r\n\r\n[")) {
          break;
        }
        while (send(fd, " ")) pause(1000ms);
        break;
      case Behaviour::DripHeaders:
        if (!send(fd, "HTTP/1.1 200 OK\r\n")) break;
        for (int i = 0; send(fd, "X-Slow-" + std::to_string(i) + ": yes\r\n"); ++i) pause(2000ms);
        break;
      case Behaviour::Silent:
        while (!stopping_) pause(100ms);
        break;
    }
    ::close(fd);
  }

  Behaviour behaviour_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

std::string eventsPipeline(const std::string& baseUrl, const std::string& timeout) {
  return "pipelines:\n  events:\n    source:\n      plugin: github_events\n      base_url: \"" +
         baseUrl + "\"\n      timeout: " + timeout +
         "\n      min_poll_interval: 1s\n    sink: {plugin: jsonl}\n";
}

// Seconds from SIGTERM to the end of the process (which must come).
double secondsToStop(int pid, int& exitCode) {
  auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  exitCode = etltest::waitFor(pid, 30);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
}

TEST(StuckPeers, AnAnswerSentOneByteASecondEndsAtTheRequestsTotalDeadline) {
  etltest::TempDir dir;
  HostileServer server(Behaviour::DripBody);
  etltest::writeFile(dir / "p.yaml",
                     eventsPipeline("http://127.0.0.1:" + std::to_string(server.port()), "2s"));
  auto started = std::chrono::steady_clock::now();
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  bool cut = etltest::waitUntil(
      [&] {
        return etltest::readFile(dir / "err").find("no complete answer within 2000 ms") !=
               std::string::npos;
      },
      20);
  double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int code = 0;
  double stopped = secondsToStop(pid, code);
  std::string err = etltest::readFile(dir / "err");
  ASSERT_TRUE(cut) << err;
  EXPECT_LT(after, 8) << "the first request was cut only after " << after << " s";
  EXPECT_LT(stopped, 5) << err;
  EXPECT_EQ(code, 0) << err;
}

// With a generous timeout (10 minutes) a stuck request must not hold up a stop: the stop ends it.
class StuckRequest : public ::testing::TestWithParam<std::pair<Behaviour, std::string>> {};

TEST_P(StuckRequest, SigtermEndsEtlrunWithinFiveSeconds) {
  etltest::TempDir dir;
  HostileServer server(GetParam().first);
  std::string scheme = GetParam().second;
  etltest::writeFile(
      dir / "p.yaml",
      eventsPipeline(scheme + "://127.0.0.1:" + std::to_string(server.port()), "10m"));
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  ASSERT_TRUE(etltest::waitUntil([&] { return server.accepted() > 0; }, 20))
      << etltest::readFile(dir / "err");
  std::this_thread::sleep_for(3s);  // well inside the stuck request
  int code = 0;
  double stopped = secondsToStop(pid, code);
  std::string err = etltest::readFile(dir / "err");
  EXPECT_LT(stopped, 5) << err;
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(err.find("received SIGTERM"), std::string::npos) << err;
}

std::string caseName(const ::testing::TestParamInfo<std::pair<Behaviour, std::string>>& info) {
  static const char* const names[] = {"DripBody", "DripHeaders", "Silent"};
  return std::string(names[static_cast<int>(info.param.first)]) + "_" + info.param.second;
}

INSTANTIATE_TEST_SUITE_P(Peers, StuckRequest,
                         ::testing::Values(std::make_pair(Behaviour::DripBody, "http"),
                                           std::make_pair(Behaviour::DripHeaders, "http"),
                                           std::make_pair(Behaviour::Silent, "http"),
                                           std::make_pair(Behaviour::Silent, "https")),
                         caseName);

// Every call after the connection is made is bounded by the answer timeout, the optional settings
// a writer sends first (tryExec) too: a server frozen just after a writer connected held it in
// silence until it thawed.
TEST(FrozenPostgresSession, AnOptionalSettingIsGivenUpOnAtTheAnswerTimeout) {
  etltest::PrivatePostgres server;
  sql::PgSession session(server.uri(), Poco::Logger::get("test"));
  session.setAnswerTimeout(std::chrono::milliseconds(1000));
  session.connect();
  EXPECT_TRUE(session.tryExec("SET client_connection_check_interval = '1s'"));
  EXPECT_FALSE(session.tryExec("SET no_such_setting_anywhere = 1"));  // refused: not fatal
  auto frozen = server.pids();
  for (int p : frozen) ::kill(p, SIGSTOP);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(session.tryExec("SET default_toast_compression = 'lz4'"), etl::RetryableError);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int p : frozen) ::kill(p, SIGCONT);
  EXPECT_LT(took, 3) << "the frozen server was waited for past the answer timeout";
  EXPECT_FALSE(session.connected()) << "given up on: the next try connects again";
}

// The readers beside the sink bound their waits too (answer_timeout): a claim from a frozen
// PostgreSQL is given up on after 1 s and retried, not waited for in silence; once the server
// thaws the queue is claimed on. (The claim given up on may still run once the server thaws: its
// rows come back after their lease, 2 s here.)
TEST(FrozenPostgresReaders, AClaimIsGivenUpOnAtItsAnswerTimeoutAndGoesOnAfterTheThaw) {
  etltest::PrivatePostgres server;
  etltest::sql(server.conninfo(),
               "CREATE TABLE q (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'pending', "
               "claimed_at timestamptz)");
  etltest::sql(server.conninfo(), "INSERT INTO q (id) VALUES (1), (2)");
  etltest::TempDir dir;
  etltest::writeFile(dir / "p.yaml",
                     "pipelines:\n  work:\n    source:\n      plugin: sql_claim\n"
                     "      connection: \"" +
                         server.uri() +
                         "\"\n      table: q\n      key: id\n      columns: [id]\n"
                         "      poll_interval: 100ms\n      answer_timeout: 1s\n      lease: 2s\n"
                         "    retry: {initial_backoff: 200ms, max_backoff: 1s}\n"
                         "    sink: {plugin: jsonl, path: \"" +
                         (dir / "out.jsonl") + "\"}\n");
  int pid = etltest::startEtlrun({"--state-dir=" + (dir / "state"), dir / "p.yaml"}, dir / "out",
                                 dir / "err");
  auto claimed = [&](const char* id) {  // "" while there is no file yet
    std::string text = etltest::readFile(dir / "out.jsonl");
    text.erase(std::remove(text.begin(), text.end(), ' '), text.end());  // {"id" : 1}
    return text.find(std::string("{\"id\":") + id + "}") != std::string::npos;
  };
  auto err = [&] { return etltest::readFile(dir / "err"); };
  ASSERT_TRUE(etltest::waitUntil([&] { return claimed("1") && claimed("2"); }, 30)) << err();
  auto frozen = server.pids();
  for (int p : frozen) ::kill(p, SIGSTOP);
  auto start = std::chrono::steady_clock::now();
  bool gaveUp =
      etltest::waitUntil([&] { return err().find("no answer from") != std::string::npos; }, 10);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int p : frozen) ::kill(p, SIGCONT);
  etltest::sql(server.conninfo(), "INSERT INTO q (id) VALUES (3)");
  bool claimedOn = etltest::waitUntil([&] { return claimed("3"); }, 30);
  int code = 0;
  secondsToStop(pid, code);
  EXPECT_TRUE(gaveUp) << err();
  EXPECT_LT(took, 5) << "the frozen server was waited for past the answer timeout";
  EXPECT_TRUE(claimedOn) << err();
}

// A load of 60,000 events into a private PostgreSQL (a keyless table: twice is two rows), with
// etlrun started as a service and the server frozen (every process stopped) once rows arrive.
class FrozenPostgres : public ::testing::Test {
 protected:
  void startFrozenLoad(const std::string& sinkExtra, const std::string& pipelineExtra) {
    etltest::writeEvents(etltest::templateEvents(etltest::dataDir()), kTotal, 7000000,
                         dir_ / "events.jsonl");
    etltest::writeFile(dir_ / "p.yaml",
                       "pipelines:\n  load:\n    source: {plugin: file, path: \"" +
                           (dir_ / "events.jsonl") +
                           "\"}\n    sink:\n      plugin: sql\n      connection: \"" +
                           server_.uri() + "\"\n" + sinkExtra +
                           "      create: auto\n      tables:\n"
                           "        events: {stream: events, columns: {id: id, type: type}}\n"
                           "    batch: {max_records: 500}\n" +
                           pipelineExtra);
    pid_ = etltest::startEtlrun({"--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"}, dir_ / "out",
                                dir_ / "err");
    ASSERT_TRUE(etltest::waitUntil([&] { return stored() > 0; }, 60)) << err();
    frozen_ = server_.pids();
    for (int p : frozen_) ::kill(p, SIGSTOP);
  }
  void thaw() {
    for (int p : frozen_) ::kill(p, SIGCONT);
  }
  int64_t stored() {
    try {
      return etltest::sqlCount(server_.conninfo(), "SELECT count(*) FROM events");
    } catch (const std::exception&) {
      return 0;
    }
  }
  void expectEachEventOnce() {
    EXPECT_EQ(stored(), static_cast<int64_t>(kTotal));
    EXPECT_EQ(etltest::sqlCount(server_.conninfo(), "SELECT count(DISTINCT id) FROM events"),
              static_cast<int64_t>(kTotal));
  }
  std::string err() { return etltest::readFile(dir_ / "err"); }

  static constexpr uint64_t kTotal = 60000;
  etltest::TempDir dir_;
  etltest::PrivatePostgres server_;  // started
  std::vector<int> frozen_;
  int pid_ = 0;
};

// PostgreSQL frozen in the middle of a load: SIGTERM ends etlrun within 5 s although it waits for
// an answer that never comes; the server thawed, a restart stores the rest, each event once.
TEST_F(FrozenPostgres, DoesNotHoldUpAStopAndNothingIsLost) {
  startFrozenLoad("", "");
  std::this_thread::sleep_for(1s);
  int code = 0;
  double stopped = secondsToStop(pid_, code);
  thaw();
  EXPECT_LT(stopped, 5) << err();
  EXPECT_EQ(code, 75) << "the stop did not drain: work remains" << err();
  EXPECT_NE(err().find("stopping now"), std::string::npos) << err();
  EXPECT_LT(stored(), static_cast<int64_t>(kTotal)) << "the freeze came after the work";
  // The stopped process's sessions end as the thawed server notices they are gone (its owner lock
  // with them): until then a --once run finds the pipeline busy (75).
  etltest::ProcessResult rest;
  for (int i = 0; i < 20; ++i) {
    rest = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"});
    if (rest.exitCode != 75) break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(rest.exitCode, 0) << rest.err;
  expectEachEventOnce();
}

// The same freeze without a stop: a service must not wait forever either. Past answer_timeout the
// connection is dropped and the batch retried; once the server thaws the load completes, each
// event once.
TEST_F(FrozenPostgres, IsGivenUpOnAfterTheAnswerTimeoutAndTheLoadCompletesAfterIt) {
  startFrozenLoad("      answer_timeout: 2s\n",
                  "    retry: {initial_backoff: 200ms, max_backoff: 1s}\n");
  bool gaveUp =
      etltest::waitUntil([&] { return err().find("no answer from") != std::string::npos; }, 20);
  thaw();
  bool all = etltest::waitUntil([&] { return stored() >= static_cast<int64_t>(kTotal); }, 120);
  int code = 0;
  double stopped = secondsToStop(pid_, code);
  ASSERT_TRUE(gaveUp) << "the frozen server was waited for in silence\n" << err();
  ASSERT_TRUE(all) << "stored " << stored() << " of " << kTotal << "\n" << err();
  EXPECT_LT(stopped, 5) << err();
  EXPECT_EQ(code, 0) << err();
  expectEachEventOnce();
}

}  // namespace
