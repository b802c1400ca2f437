// Connection settings and refusals on a real MariaDB through the real etlrun binary: a password
// with a space, a quote and a backslash connects from the URI (percent-encoded) and from
// MYSQL_PWD; what cannot heal (a wrong password, no such database, a setting Poco's connector
// cannot pass) fails at once with exit 70 and says what to do; an unreachable server is retried.
// No message ever shows a password (Poco's exceptions are rewrapped).
#include <Poco/Logger.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "etl/errors.h"
#include "list_query.h"
#include "mariadb_env.h"
#include "test_env.h"

namespace {

const std::string kPassword = "pa ss'wo\\rd";      // a space, a quote, a backslash
const std::string kEncoded = "pa%20ss%27wo%5Crd";  // the same, percent-encoded for a URI

class MysqlErrors : public testing::Test {
 protected:
  void SetUp() override {
    user_ = "etl_" + db_.name().substr(8);
    db_.query("CREATE USER '" + user_ + "'@'%' IDENTIFIED BY 'pa ss''wo\\\\rd'");
    db_.query("GRANT ALL ON " + db_.name() + ".* TO '" + user_ + "'@'%'");
    etltest::writeFile(dir_ / "in.jsonl", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
  }
  void TearDown() override {
    try {
      db_.query("DROP USER '" + user_ + "'@'%'");
    } catch (...) {
    }
  }
  std::string uri(const std::string& password, const std::string& database = "") const {
    std::string base = db_.uri();  // mysql://root@127.0.0.1:PORT/NAME
    std::string hostPort = base.substr(base.find('@') + 1);
    hostPort = hostPort.substr(0, hostPort.find('/'));
    return "mysql://" + user_ + (password.empty() ? "" : ":" + password) + "@" + hostPort + "/" +
           (database.empty() ? db_.name() : database);
  }
  std::string pipeline(const std::string& connection) const {
    std::string path = dir_ / "p.yaml";
    etltest::writeFile(path, "connections:\n  db: {uri: \"" + connection +
                                 "\"}\npipelines:\n  p:\n    source: {plugin: file, path: \"" +
                                 (dir_ / "in.jsonl") +
                                 "\", stream: s}\n    sink:\n      plugin: sql\n"
                                 "      connection: db\n      create: auto\n      tables:\n"
                                 "        things: {stream: s, key: [id], columns: {id: id}}\n");
    return path;
  }
  etltest::ProcessResult run(const std::string& connection,
                             std::map<std::string, std::string> env = {}) {
    if (!env.count("MYSQL_PWD")) env["-MYSQL_PWD"] = "";
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), pipeline(connection)},
                              env);
  }
  void expectNoSecret(const std::string& text) {
    for (const std::string& secret : {kPassword, kEncoded, std::string("pa ss"),
                                      std::string("wrong-one"), std::string("wrong%2Done")}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << "secret in the log: " << text;
    }
  }

  etltest::TempDir dir_;
  etltest::TestMariaDb db_;
  std::string user_;
};

TEST_F(MysqlErrors, APasswordWithASpaceAQuoteAndABackslashConnectsFromTheUriAndTheEnvironment) {
  auto fromUri = run(uri(kEncoded));
  ASSERT_EQ(fromUri.exitCode, 0) << fromUri.err;
  EXPECT_EQ(db_.count("SELECT count(*) FROM things"), 2);
  expectNoSecret(fromUri.err + fromUri.out);
  db_.query("DROP TABLE things");
  db_.query("DELETE FROM etl_checkpoints");
  auto fromEnv = run(uri(""), {{"MYSQL_PWD", kPassword}});
  ASSERT_EQ(fromEnv.exitCode, 0) << fromEnv.err;
  EXPECT_EQ(db_.count("SELECT count(*) FROM things"), 2);
  expectNoSecret(fromEnv.err + fromEnv.out);
}

TEST_F(MysqlErrors, AWrongPasswordFailsAtOnceSayingWhatToDoWithoutShowingIt) {
  for (auto [connection, env] :
       std::vector<std::pair<std::string, std::map<std::string, std::string>>>{
           {uri("wrong%2Done"), {}}, {uri(""), {{"MYSQL_PWD", "wrong-one"}}}}) {
    auto start = std::chrono::steady_clock::now();
    auto r = run(connection, env);
    EXPECT_EQ(r.exitCode, 70) << r.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
    EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("MYSQL_PWD"), std::string::npos) << r.err;
    expectNoSecret(r.err + r.out);
  }
}

TEST_F(MysqlErrors, AMissingDatabaseFailsAtOnceSayingWhatToDo) {
  auto r = run(uri(kEncoded, "no_such_db"));
  EXPECT_EQ(r.exitCode, 70) << r.err;
  EXPECT_NE(r.err.find("create the database"), std::string::npos) << r.err;
  expectNoSecret(r.err + r.out);
}

TEST_F(MysqlErrors, ASocketOptionIsRefusedSayingWhy) {
  auto r = run(uri(kEncoded) + "?socket=/tmp/mysql.sock");
  EXPECT_EQ(r.exitCode, 70) << r.err;
  EXPECT_NE(r.err.find("connects by host and port only"), std::string::npos) << r.err;
  expectNoSecret(r.err + r.out);
}

// Nothing listens there: an outage, retried with backoff (a service waits for its database),
// and the retry's log line shows no password either.
TEST_F(MysqlErrors, AnUnreachableServerIsRetriedWithoutShowingThePassword) {
  std::string connection = "mysql://" + user_ + ":" + kEncoded + "@127.0.0.1:9/" + db_.name();
  int pid = etltest::startEtlrun({"--state-dir=" + (dir_ / "state"), pipeline(connection)},
                                 dir_ / "out", dir_ / "err", {{"-MYSQL_PWD", ""}});
  std::string log;
  for (int i = 0; i < 200 && log.find("retrying at") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = etltest::readFile(dir_ / "err");
  }
  ::kill(pid, SIGTERM);
  etltest::waitFor(pid, 30);
  EXPECT_NE(log.find("retrying at"), std::string::npos) << log;
  EXPECT_NE(log.find("Can't connect"), std::string::npos) << log;
  expectNoSecret(log);
}

}  // namespace

namespace {

// A server that stops answering (every process frozen: a hung VM, a network cut without a reset)
// is given up on after answer_timeout, and the batch retried on a new connection; once it thaws,
// the load completes with each line stored once.
TEST(MysqlFrozen, AFrozenServerIsGivenUpOnAtTheAnswerTimeoutAndTheLoadCompletesOnce) {
  etltest::TempDir dir;
  etltest::PrivateMariaDb server;
  constexpr int kLines = 200000;
  {
    std::string lines;
    for (int i = 0; i < kLines; ++i) lines += "{\"n\":" + std::to_string(i) + "}\n";
    etltest::writeFile(dir / "lines.jsonl", lines);
  }
  etltest::writeFile(dir / "p.yaml",
                     "connections:\n  db: {uri: \"" + server.uri() +
                         "\"}\npipelines:\n  lines:\n    source: {plugin: file, path: \"" +
                         (dir / "lines.jsonl") +
                         "\", stream: s}\n    sink:\n      plugin: sql\n      connection: db\n"
                         "      answer_timeout: 2s\n      create: auto\n      tables:\n"
                         "        lines: {stream: s, columns: {n: {path: n, type: bigint}}}\n"
                         "    batch: {max_records: 500, max_latency: 1s}\n"
                         "    retry: {initial_backoff: 200ms, max_backoff: 1s}\n");
  auto stored = [&] {
    try {
      return std::stoll(server.query("SELECT count(*) FROM etl.\"lines\"").at(0));
    } catch (const std::exception&) {
      return 0LL;
    }
  };
  int pid = etltest::startEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"},
                                 dir / "out", dir / "err");
  for (int i = 0; i < 600 && stored() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(stored(), 0) << etltest::readFile(dir / "err");
  ::kill(server.pid(), SIGSTOP);
  auto frozen = std::chrono::steady_clock::now();
  std::string log;
  while (log.find("retrying at") == std::string::npos &&
         std::chrono::steady_clock::now() - frozen < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    log = etltest::readFile(dir / "err");
  }
  double gaveUp = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen).count();
  ::kill(server.pid(), SIGCONT);
  EXPECT_NE(log.find("retrying at"), std::string::npos) << log;
  EXPECT_LT(gaveUp, 6.0) << "the writer waited past its 2 s answer timeout\n" << log;
  std::cout << "a frozen server was given up on after " << gaveUp << " s (answer_timeout 2 s)\n";
  EXPECT_EQ(etltest::waitFor(pid, 300), 0) << etltest::readFile(dir / "err");
  EXPECT_EQ(stored(), kLines);
  EXPECT_EQ(std::stoll(server.query("SELECT count(DISTINCT n) FROM etl.\"lines\"").at(0)), kLines);
}

}  // namespace

namespace {

// A server that takes at most 1 MB a packet: a row of 3 MB is not sent (the server would drop the
// connection, and the batch would be retried forever) but becomes a dead letter saying why, its
// record kept up to what fits; the rest of the batch is stored.
TEST(MysqlPacket, ARowLongerThanTheServerTakesIsADeadLetterAndTheRestIsStored) {
  etltest::TempDir dir;
  etltest::PrivateMariaDb server;
  server.query("SET GLOBAL max_allowed_packet = 1048576");
  std::string lines;
  for (int i = 0; i < 50; ++i) lines += "{\"id\":\"t" + std::to_string(i) + "\",\"doc\":\"x\"}\n";
  lines += "{\"id\":\"huge\",\"doc\":\"" + std::string(3 << 20, 'y') + "\"}\n";
  etltest::writeFile(dir / "in.jsonl", lines);
  etltest::writeFile(dir / "p.yaml",
                     "connections:\n  db: {uri: \"" + server.uri() +
                         "\"}\npipelines:\n  p:\n    source: {plugin: file, path: \"" +
                         (dir / "in.jsonl") +
                         "\", stream: s}\n    sink:\n      plugin: sql\n      connection: db\n"
                         "      create: auto\n      tables:\n"
                         "        things: {stream: s, key: [id], columns: {id: id, doc: doc}}\n");
  auto run = etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  ASSERT_EQ(run.exitCode, 0) << run.err.substr(0, 3000);
  EXPECT_EQ(server.query("SELECT count(*) FROM etl.things").at(0), "50");
  auto reasons = server.query("SELECT reason FROM etl.etl_dead_letters");
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("max_allowed_packet"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[0].find("are kept"), std::string::npos) << reasons[0];
}

// The readers' timeout on MariaDB, the sibling of PostgreSQL's: a list query is given up on at its
// answer timeout whether the server is only slow, which then ends the statement itself
// (max_statement_time) instead of running it on, or frozen.
TEST(MysqlFrozen, AListQueryIsGivenUpOnAtItsAnswerTimeoutAndASlowOneEndedByTheServer) {
  etltest::PrivateMariaDb server;
  auto seconds = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  };
  auto slow = sql::makeListQuery(server.uri(), "", "SELECT SLEEP(8)", Poco::Logger::get("test"),
                                 std::chrono::seconds(1));
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(slow->run(), etl::RetryableError);
  EXPECT_LT(seconds(start), 5) << "the slow query was waited for past the answer timeout";
  auto running = [&] {
    return std::stoll(server
                          .query("SELECT count(*) FROM information_schema.PROCESSLIST WHERE "
                                 "INFO = 'SELECT SLEEP(8)'")
                          .at(0));
  };
  EXPECT_TRUE(etltest::waitUntil([&] { return running() == 0; }, 4))
      << "the query given up on still ran on the server";

  auto frozen = sql::makeListQuery(server.uri(), "", "SELECT 'x'", Poco::Logger::get("test"),
                                   std::chrono::seconds(1));
  ASSERT_EQ(frozen->run(), std::vector<std::string>{"x"});
  ::kill(server.pid(), SIGSTOP);
  // Stopped once every thread is (the signal takes a moment to reach them all).
  ASSERT_TRUE(etltest::waitUntil(
      [&] {
        std::string stat = etltest::readFile("/proc/" + std::to_string(server.pid()) + "/stat");
        return stat.find(") T ") != std::string::npos;
      },
      5));
  start = std::chrono::steady_clock::now();
  EXPECT_THROW(frozen->run(), etl::RetryableError);
  double took = seconds(start);
  ::kill(server.pid(), SIGCONT);
  EXPECT_LT(took, 5) << "the frozen server was waited for past the answer timeout";
}

}  // namespace
