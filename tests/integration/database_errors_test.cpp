// Connection settings and refusals through the real etlrun binary, against a real PostgreSQL that
// asks for passwords (scram-sha-256): passwords with spaces, quotes and backslashes connect in
// every form libpq accepts; what cannot heal (wrong password, no such database, an invalid option)
// fails the pipeline at once with exit 70 and a message that never shows the password.
#include <gtest/gtest.h>

#include <chrono>

#include "postgres_env.h"
#include "shipped_pipelines.h"
#include "test_env.h"

namespace {

const std::string kPassword = "pa ss'wo\\rd";      // a space, a quote, a backslash
const std::string kEncoded = "pa%20ss%27wo%5Crd";  // the same, percent-encoded for a URI
const std::string kQuoted = "'pa ss\\'wo\\\\rd'";  // the same, quoted for key=value

class DatabaseErrors : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new etltest::PrivatePostgres("setup-secret");
    etltest::sql(server_->conninfo() + " password=setup-secret",
                 "CREATE ROLE etl LOGIN PASSWORD 'pa ss''wo\\rd'");
    etltest::sql(server_->conninfo() + " password=setup-secret", "CREATE DATABASE etl OWNER etl");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  std::string port() const {
    std::string c = server_->conninfo();
    std::size_t at = c.find("port=") + 5;
    return c.substr(at, c.find(' ', at) - at);
  }

  struct Run {
    etltest::ProcessResult result;
    double seconds;
  };
  // GH Archive hour -> postgres with this connection; --once: a retry loop would last 15 minutes.
  Run run(const std::string& connection, const std::map<std::string, std::string>& env = {}) {
    std::string path = dir_ / "p.yaml";
    etltest::writeFile(
        path, etltest::githubConnection("${ETL_DATABASE}") +
                  "pipelines:\n  backfill:\n    source: {plugin: file, path: \"" +
                  etltest::dataDir() +
                  "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl\", "
                  "stream: github_events}\n    transforms: [{plugin: push_event_parser}]\n" +
                  etltest::shippedSink("gharchive.yaml", "backfill"));
    std::map<std::string, std::string> all = env;
    all["ETL_DATABASE"] = connection;
    if (!all.count("PGPASSWORD")) all["-PGPASSWORD"] = "";
    auto start = std::chrono::steady_clock::now();
    auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), path}, all);
    return {result,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  }
  void expectNoSecret(const etltest::ProcessResult& r) {
    for (const std::string& secret :
         {kPassword, kEncoded, std::string("pa ss"), std::string("wrong-one")}) {
      EXPECT_EQ(r.err.find(secret), std::string::npos) << "secret in the log: " << r.err;
      EXPECT_EQ(r.out.find(secret), std::string::npos);
    }
  }
  int64_t stored() {
    return etltest::sqlCount(server_->conninfo() + " password=setup-secret dbname=etl",
                             "SELECT count(*) FROM github_events");
  }

  static etltest::PrivatePostgres* server_;
  etltest::TempDir dir_;
};
etltest::PrivatePostgres* DatabaseErrors::server_ = nullptr;

TEST_F(DatabaseErrors, APasswordWithASpaceAQuoteAndABackslashConnectsInEveryForm) {
  std::string base = "host=127.0.0.1 port=" + port() + " user=etl dbname=etl";
  auto fromEnv = run(base, {{"PGPASSWORD", kPassword}});
  ASSERT_EQ(fromEnv.result.exitCode, 0) << fromEnv.result.err;
  EXPECT_EQ(stored(), 200);
  auto uri = run("postgresql://etl:" + kEncoded + "@127.0.0.1:" + port() + "/etl");
  EXPECT_EQ(uri.result.exitCode, 0) << uri.result.err;
  auto keyValue = run(base + " password=" + kQuoted);
  EXPECT_EQ(keyValue.result.exitCode, 0) << keyValue.result.err;
  for (const auto* r : {&fromEnv, &uri, &keyValue}) expectNoSecret(r->result);
}

TEST_F(DatabaseErrors, AWrongPasswordFailsAtOnceWithoutShowingIt) {
  auto r = run("postgresql://etl:wrong-one@127.0.0.1:" + port() + "/etl");
  EXPECT_EQ(r.result.exitCode, 70) << r.result.err;
  EXPECT_LT(r.seconds, 20) << "an authentication failure was retried";
  EXPECT_NE(r.result.err.find("password authentication failed"), std::string::npos) << r.result.err;
  EXPECT_NE(r.result.err.find("check the user and the password"), std::string::npos)
      << r.result.err;
  EXPECT_EQ(r.result.err.find("retrying"), std::string::npos) << r.result.err;
  expectNoSecret(r.result);
  // No password at all, where one is required: the same.
  auto none = run("host=127.0.0.1 port=" + port() + " user=etl dbname=etl");
  EXPECT_EQ(none.result.exitCode, 70) << none.result.err;
  EXPECT_EQ(none.result.err.find("retrying"), std::string::npos) << none.result.err;
}

TEST_F(DatabaseErrors, AMissingDatabaseFailsAtOnceSayingWhatToDo) {
  auto r =
      run("host=127.0.0.1 port=" + port() + " user=etl dbname=nope", {{"PGPASSWORD", kPassword}});
  EXPECT_EQ(r.result.exitCode, 70) << r.result.err;
  EXPECT_NE(r.result.err.find("\"nope\" does not exist"), std::string::npos) << r.result.err;
  EXPECT_NE(r.result.err.find("create the database"), std::string::npos) << r.result.err;
  EXPECT_EQ(r.result.err.find("retrying"), std::string::npos) << r.result.err;
  expectNoSecret(r.result);
}

TEST_F(DatabaseErrors, AnInvalidConnectionOptionFailsAtOnceNamingIt) {
  auto r = run("host=127.0.0.1 port=" + port() + " user=etl password=" + kQuoted +
               " dbname=etl colour=blue");
  EXPECT_EQ(r.result.exitCode, 70) << r.result.err;
  EXPECT_NE(r.result.err.find("invalid connection option \"colour\""), std::string::npos)
      << r.result.err;
  EXPECT_EQ(r.result.err.find("retrying"), std::string::npos) << r.result.err;
  expectNoSecret(r.result);
}

}  // namespace
