// The http_poll source through the real etlrun binary against a fake JSON API (Poco::Net on
// 127.0.0.1), into the sql sink on SQLite and on PostgreSQL: Link, next-URL and cursor pages, the
// since parameter across restarts, kill -9 in the middle of a page walk, 304s, a 500 and a
// truncated body retried, an answer that is not JSON or a 403 stopping the pipeline, and the
// credentials going to their origin only and nowhere else (logs, checkpoints, the database).
// The items table has no key unless a case says so: an item stored twice would show.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>

#include "backends.h"
#include "fake_json_api.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

struct Source {
  std::string path;  // of the collection: /link/items?per_page=10
  std::string keys;  // more source keys, each "      key: value\n"
};

class HttpPoll : public testing::TestWithParam<etltest::Backend> {
 protected:
  void SetUp() override { api_.start(); }

  // The pipeline `items`: http_poll -> sql, the table `items` (keyless unless `key`).
  std::string pipeline(const Source& source, const std::string& key = "") {
    std::string uri = db_.uri();
    std::string path = dir_ / "items.yaml";
    etltest::writeFile(
        path, "connections:\n  db: {uri: \"" + uri +
                  "\"}\npipelines:\n  items:\n    source:\n      plugin: http_poll\n"
                  "      url: \"" +
                  api_.baseUrl() + source.path +
                  "\"\n      key_field: id\n      interval: 1s\n      timeout: 5s\n" + source.keys +
                  "    sink:\n      plugin: sql\n      connection: db\n"
                  "      create: auto\n      tables:\n        items:\n"
                  "          stream: http_poll\n" +
                  (key.empty() ? "" : "          key: [" + key + "]\n") +
                  "          columns:\n"
                  "            id: {path: id, type: bigint, required: true}\n"
                  "            name: name\n            updated_at: updated_at\n"
                  "    batch: {max_records: 10, max_latency: 200ms}\n"
                  "    retry: {initial_backoff: 100ms, max_backoff: 500ms}\n");
    return path;
  }

  etltest::ProcessResult runOnce(const std::string& yaml,
                                 const std::map<std::string, std::string>& env = {}) {
    auto result = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), yaml}, env);
    log_ += result.err;
    return result;
  }

  int64_t count(const std::string& statement) const {
    try {
      return db_.count(statement);
    } catch (const std::exception&) {
      return -1;  // the table is not there (yet)
    }
  }
  int64_t stored() const { return count("SELECT count(*) FROM items"); }

  void expectEachItemOnce() const {
    int64_t published = static_cast<int64_t>(api_.ids().size());
    EXPECT_EQ(stored(), published) << "rows stored";
    EXPECT_EQ(count("SELECT count(DISTINCT id) FROM items"), published) << "distinct items";
    EXPECT_EQ(count("SELECT max(id) FROM items"), published);
  }

  etltest::TempDir dir_;
  fakeapi::FakeJsonApi api_;
  etltest::BackendDb db_{GetParam(), dir_ / "items.sqlite"};
  std::string log_;
};

INSTANTIATE_TEST_SUITE_P(Db, HttpPoll,
                         testing::Values(etltest::Backend::Sqlite, etltest::Backend::Postgres,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) {
                           // "SQLite" as before: test names others may filter on.
                           return info.param == etltest::Backend::Sqlite
                                      ? std::string("SQLite")
                                      : etltest::backendName(info.param);
                         });

const Source kLinkSince{"/link/items?per_page=10",
                        "      pagination: link\n      since_param: since\n"
                        "      since_field: updated_at\n"};

TEST_P(HttpPoll, LinkPagesAndSinceStoreEachItemOnceAcrossRestarts) {
  api_.addItems(25);
  std::string yaml = pipeline(kLinkSince);
  auto first = runOnce(yaml);
  ASSERT_EQ(first.exitCode, 0) << first.err;
  expectEachItemOnce();
  auto requests = api_.requests();
  ASSERT_EQ(requests.size(), 3u) << "three pages of 10";
  EXPECT_EQ(requests[0].query.count("since"), 0u);
  EXPECT_EQ(requests[2].query.at("page"), "3");

  api_.addItems(7);
  auto second = runOnce(yaml);
  ASSERT_EQ(second.exitCode, 0) << second.err;
  expectEachItemOnce();
  requests = api_.requests();
  ASSERT_GE(requests.size(), 4u);
  // The restart asks from the greatest updated_at it stored (item 25), whose item comes again and
  // is skipped: the keyless table would show it twice.
  EXPECT_EQ(requests[3].query["since"], "2024-05-01T10:00:25Z");
  EXPECT_EQ(requests[3].query.count("page"), 0u);

  // Nothing new: the same question, asked conditionally, costs a 304 and stores nothing.
  auto third = runOnce(yaml);
  ASSERT_EQ(third.exitCode, 0) << third.err;
  auto fourth = runOnce(yaml);
  ASSERT_EQ(fourth.exitCode, 0) << fourth.err;
  EXPECT_EQ(api_.requests().back().status, 304);
  EXPECT_FALSE(api_.requests().back().header("if-none-match").empty());
  expectEachItemOnce();
}

TEST_P(HttpPoll, NothingNewIsAConditionalRequestAnswered304) {
  api_.addItems(6);
  // Without since every poll reads the whole collection (here one page): the table's key skips
  // what it holds.
  std::string yaml = pipeline({"/link/items?per_page=20", "      pagination: link\n"}, "id");
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  expectEachItemOnce();
  std::size_t before = api_.requests().size();
  auto again = runOnce(yaml);
  ASSERT_EQ(again.exitCode, 0) << again.err;
  auto requests = api_.requests();
  ASSERT_EQ(requests.size(), before + 1) << "one request: the first page, answered 304";
  EXPECT_EQ(requests.back().status, 304);
  EXPECT_TRUE(requests.front().header("if-none-match").empty()) << "nothing to compare with yet";
  EXPECT_FALSE(requests.back().header("if-none-match").empty());
  EXPECT_EQ(api_.count(304), 1);
  expectEachItemOnce();
  // Something new changes the first page: a 200, the new items stored, the old ones kept once.
  api_.addItems(3);
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  EXPECT_EQ(api_.requests()[before + 1].status, 200);
  expectEachItemOnce();
}

TEST_P(HttpPoll, WithoutSinceAWalkOfSeveralPagesIsReadWholeEveryPoll) {
  // Oldest first: new items change only the last page, so an unchanged first page proves nothing.
  api_.addItems(6);
  std::string yaml = pipeline({"/link/items?per_page=4", "      pagination: link\n"}, "id");
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  api_.addItems(1);
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  auto requests = api_.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[2].header("if-none-match"), "");
  EXPECT_EQ(api_.count(304), 0);
  expectEachItemOnce();
}

TEST_P(HttpPoll, KillDashNineInTheMiddleOfAWalkResumesAtTheNextPage) {
  api_.addItems(300);
  api_.setDelay(40ms);
  std::string yaml = pipeline(kLinkSince);
  int pid = etltest::startEtlrun({"--state-dir=" + (dir_ / "state"), yaml}, dir_ / "run.out",
                                 dir_ / "run.err");
  ASSERT_TRUE(etltest::waitUntil([&] { return stored() >= 60; }, 60))
      << etltest::readFile(dir_ / "run.err");
  kill(pid, SIGKILL);
  etltest::waitFor(pid);
  int64_t storedBefore = stored();
  std::size_t requestsBefore = api_.requests().size();
  ASSERT_LT(storedBefore, 300) << "the walk ended before the kill: nothing to resume";
  api_.setDelay(0ms);
  auto resumed = runOnce(yaml);
  ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
  expectEachItemOnce();
  auto requests = api_.requests();
  ASSERT_GT(requests.size(), requestsBefore);
  const auto& first = requests[requestsBefore];
  // Not the first page again: the page after the last one committed (or the one in flight).
  ASSERT_EQ(first.query.count("page"), 1u) << "the restart began a new walk";
  int page = std::stoi(first.query.at("page"));
  EXPECT_GE(page, storedBefore / 10);
  EXPECT_LE(page, storedBefore / 10 + 2);
  EXPECT_NE(resumed.err.find("resuming a page walk"), std::string::npos) << resumed.err;
}

TEST_P(HttpPoll, CursorPagesAndSinceReadOnlyWhatIsNew) {
  api_.addItems(23);
  std::string yaml = pipeline({"/cursor/items?per_page=5",
                               "      records: items\n      pagination: next_field\n"
                               "      next_field: meta.next_cursor\n      cursor_param: cursor\n"
                               "      since_param: since\n      since_field: updated_at\n"});
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  expectEachItemOnce();
  auto requests = api_.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[1].query["cursor"], "after-5");
  EXPECT_EQ(requests[4].query["per_page"], "5") << "the cursor goes on the first page's URL";

  api_.addItems(4);
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  expectEachItemOnce();
  requests = api_.requests();
  ASSERT_EQ(requests.size(), 6u) << "items 23..27 fit one page";
  EXPECT_EQ(requests[5].query["since"], "2024-05-01T10:00:23Z");
  EXPECT_EQ(requests[5].query.count("cursor"), 0u);
}

TEST_P(HttpPoll, AWalkPastMaxPagesGoesOnNextPollAndAnExpiredCursorStartsItAgain) {
  api_.addItems(30);  // six pages of 5
  std::string yaml = pipeline({"/cursor/items?per_page=5",
                               "      records: items\n      pagination: next_field\n"
                               "      next_field: meta.next_cursor\n      cursor_param: cursor\n"
                               "      since_param: since\n      since_field: updated_at\n"
                               "      max_pages: 2\n"},
                              "id");
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  EXPECT_EQ(stored(), 10);
  EXPECT_NE(log_.find("read max_pages (2) pages this poll"), std::string::npos) << log_;
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  EXPECT_EQ(stored(), 20);
  EXPECT_EQ(api_.requests()[2].query["cursor"], "after-10") << "not the first page again";
  // The stored cursor is gone by the next poll: the walk starts over, the key skips repeats.
  api_.expireNextCursor();
  for (int run = 0; run < 4 && stored() < 30; ++run) ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  EXPECT_NE(log_.find("answered HTTP 410: walking again from the first page"), std::string::npos)
      << log_;
  EXPECT_EQ(api_.count(410), 1);
  expectEachItemOnce();
}

TEST_P(HttpPoll, NextUrlsInTheBodyAreFollowed) {
  api_.addItems(12);
  std::string yaml = pipeline({"/next/items?per_page=5",
                               "      records: data.results\n      pagination: next_field\n"
                               "      next_field: next\n"});
  ASSERT_EQ(runOnce(yaml).exitCode, 0) << log_;
  expectEachItemOnce();
  EXPECT_EQ(api_.requests().size(), 3u);
}

TEST_P(HttpPoll, A500AndATruncatedBodyAreRetriedAndTheWalkRecovers) {
  api_.addItems(30);
  api_.inject(fakeapi::Fault::Status500, 1);      // the second page
  api_.inject(fakeapi::Fault::TruncatedBody, 0);  // its retry
  auto result = runOnce(pipeline(kLinkSince));
  ASSERT_EQ(result.exitCode, 0) << result.err;
  expectEachItemOnce();
  EXPECT_EQ(api_.count(500), 1);
  EXPECT_NE(result.err.find("HTTP 500"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("truncated"), std::string::npos) << result.err;
}

TEST_P(HttpPoll, AnAnswerThatIsNotJsonStopsThePipelineNamingTheUrl) {
  api_.addItems(30);
  api_.inject(fakeapi::Fault::NotJson, 1);  // the second page
  auto result = runOnce(pipeline(kLinkSince));
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_NE(result.err.find("the answer is not JSON"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(api_.baseUrl() + "/link/items?page=2&per_page=10"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("<html>"), std::string::npos) << "the answer's start" << result.err;
  EXPECT_EQ(stored(), 10) << "the first page, read before, is kept";
  EXPECT_EQ(api_.requests().size(), 2u) << "not retried";
}

TEST_P(HttpPoll, A403StopsThePipelineAtOnceSayingWhy) {
  api_.addItems(3);
  api_.inject(fakeapi::Fault::Status403);
  auto result = runOnce(pipeline(kLinkSince));
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_NE(result.err.find("answered HTTP 403: '{\"error\":\"this key may not read items\"}'"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(api_.requests().size(), 1u) << "a refusal is not a rate limit: not retried";
}

// Not per database: what goes where over HTTP, and what is written anywhere.
class HttpPollCredentials : public testing::Test {
 protected:
  etltest::TempDir dir_;
  fakeapi::FakeJsonApi api_, other_;
};

TEST_F(HttpPollCredentials, GoToTheirOriginOnlyAndAreNeverLoggedOrStored) {
  const std::string token = "tok-9f8e7d6c5b4a39281706";
  const std::string key = "key-0a1b2c3d4e5f60718293";
  api_.start();
  other_.start();
  api_.addItems(8);
  other_.addItems(8);
  api_.linkTo(other_.baseUrl());  // page 2 lives on another origin
  etltest::writeFile(
      dir_ / "p.yaml",
      "connections:\n  db: {uri: \"sqlite:" + (dir_ / "items.sqlite") +
          "\"}\npipelines:\n  items:\n    source:\n      plugin: http_poll\n"
          "      url: " +
          api_.baseUrl() +
          "/link/items?per_page=4\n      pagination: link\n"
          "      key_field: id\n      token: ${API_TOKEN}\n"
          "      headers: {X-Api-Key: \"${API_KEY}\", Accept: application/json}\n"
          "    sink:\n      plugin: sql\n      connection: db\n      create: auto\n"
          "      tables:\n        items:\n          stream: http_poll\n"
          "          columns: {id: {path: id, type: bigint}, raw: {value: record}}\n");
  auto result = etltest::runEtlrun(
      {"--once", "--log-level=trace", "--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"},
      {{"API_TOKEN", token}, {"API_KEY", key}});
  ASSERT_EQ(result.exitCode, 0) << result.err;
  ASSERT_EQ(api_.requests().size(), 1u);
  EXPECT_EQ(api_.requests()[0].header("authorization"), "Bearer " + token);
  EXPECT_EQ(api_.requests()[0].header("x-api-key"), key);
  ASSERT_EQ(other_.requests().size(), 1u) << "the next page, on the other origin";
  EXPECT_EQ(other_.requests()[0].header("authorization"), "");
  EXPECT_EQ(other_.requests()[0].header("x-api-key"), "");
  EXPECT_EQ(other_.requests()[0].header("accept"), "application/json");
  // Nowhere on disk or in the output.
  for (const auto& secret : {token, key}) {
    EXPECT_EQ(result.out.find(secret), std::string::npos);
    EXPECT_EQ(result.err.find(secret), std::string::npos) << result.err;
    std::vector<std::string> files{dir_ / "items.sqlite"};
    for (Poco::DirectoryIterator it(dir_ / "state"), end; it != end; ++it) {
      if (it->isFile()) files.push_back(it.path().toString());
    }
    for (const auto& file : files) {
      EXPECT_EQ(etltest::readFile(file).find(secret), std::string::npos) << file;
    }
  }
  // An API that echoes the refused credential in its answer: the message quotes it masked.
  api_.inject(fakeapi::Fault::Status403);
  auto refused = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"},
                                    {{"API_TOKEN", token}, {"API_KEY", key}});
  EXPECT_EQ(refused.exitCode, 70) << refused.err;
  EXPECT_NE(refused.err.find("\"refused\":\"Bearer ***\""), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(token), std::string::npos) << refused.err;
}

// Into JSON lines: what reaches the sink byte for byte.
class HttpPollAnswers : public testing::Test {
 protected:
  void SetUp() override { api_.start(); }
  // Each `name` a pipeline of its own (state, output).
  etltest::ProcessResult run(const std::string& keys, const std::string& name = "p") {
    etltest::writeFile(dir_ / "p.yaml",
                       "pipelines:\n  raw:\n    source:\n      plugin: http_poll\n"
                       "      url: " +
                           api_.baseUrl() + "/raw\n" + keys + "    sink: {plugin: jsonl, path: \"" +
                           (dir_ / (name + ".jsonl")) + "\", fsync: false}\n");
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / name), dir_ / "p.yaml"});
  }
  etltest::TempDir dir_;
  fakeapi::FakeJsonApi api_;
};

TEST_F(HttpPollAnswers, EveryElementIsARecordVerbatimObjectOrNot) {
  api_.serveRaw(R"({"result":{"rows":[{"id":1, "n":1.10},7,"text",null,[1,2]]}})");
  auto result = run("      records: result.rows\n");
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir_ / "p.jsonl"),
            "{\"id\":1, \"n\":1.10}\n7\n\"text\"\nnull\n[1,2]\n");
}

TEST_F(HttpPollAnswers, OneObjectIsOneRecord) {
  api_.serveRaw(R"({"status":"ok","load":0.25})");
  auto result = run("");
  ASSERT_EQ(result.exitCode, 0) << result.err;
  EXPECT_EQ(etltest::readFile(dir_ / "p.jsonl"), "{\"status\":\"ok\",\"load\":0.25}\n");
}

TEST_F(HttpPollAnswers, AMissingRecordsPathOrAnotherShapeIsAClearError) {
  api_.serveRaw(R"({"result":{"rows":{"id":1}}})");
  auto missing = run("      records: result.items\n");
  EXPECT_EQ(missing.exitCode, 70);
  EXPECT_NE(missing.err.find("the answer has no 'result.items'"), std::string::npos) << missing.err;
  auto object = run("      records: result.rows\n", "q");
  EXPECT_EQ(object.exitCode, 70);
  EXPECT_NE(object.err.find("'result.rows' of the answer is an object, not an array of records"),
            std::string::npos)
      << object.err;
}

TEST_F(HttpPollAnswers, AnAnswerLargerThanMaxBodyBytesStopsThePipeline) {
  std::string big = "[";
  for (int i = 0; i < 200; ++i)
    big += std::string(i ? "," : "") + "{\"id\":" + std::to_string(i) + "}";
  api_.serveRaw(big + "]");
  auto result = run("      max_body_bytes: 1024\n");
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_NE(result.err.find("than the 1024 bytes allowed"), std::string::npos) << result.err;
  EXPECT_EQ(api_.requests().size(), 1u) << "not retried";
}

TEST(HttpPollConfig, ValidateChecksKeysThatGoTogether) {
  etltest::TempDir dir;
  auto check = [&](const std::string& keys) {
    etltest::writeFile(dir / "p.yaml",
                       "pipelines:\n  p:\n    source:\n      plugin: http_poll\n"
                       "      url: https://api.example.com/items\n" +
                           keys + "    sink: {plugin: jsonl}\n");
    return etltest::runEtlrun({"validate", dir / "p.yaml"});
  };
  EXPECT_EQ(check("").exitCode, 0);
  auto noField = check("      pagination: next_field\n");
  EXPECT_EQ(noField.exitCode, 78);
  EXPECT_NE(noField.err.find("pagination: next_field needs next_field"), std::string::npos)
      << noField.err;
  auto half = check("      since_param: since\n");
  EXPECT_EQ(half.exitCode, 78);
  EXPECT_NE(half.err.find("since_param and since_field go together"), std::string::npos)
      << half.err;
  auto both = check("      token: abc\n      headers: {Authorization: Basic xyz}\n");
  EXPECT_EQ(both.exitCode, 78);
  EXPECT_NE(both.err.find("either token or an Authorization header"), std::string::npos)
      << both.err;
  auto mode = check("      pagination: pages\n");
  EXPECT_EQ(mode.exitCode, 78);
}

}  // namespace
