#include <Poco/DirectoryIterator.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connection_string.h"
#include "event_generator.h"
#include "push_event_row.h"
#include "test_env.h"

namespace {

// The first PushEvent of a recorded API response, as GitHub sent it.
etl::Record recordedPush(const std::string& file) {
  std::ifstream in(etltest::dataDir() + "/events/" + file);
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
  auto body = parser.parse(in)
                  .extract<Poco::JSON::Object::Ptr>()
                  ->getArray("exchanges")
                  ->getObject(0)
                  ->getObject("response")
                  ->getArray("body");
  for (std::size_t i = 0; i < body->size(); ++i) {
    auto event = body->getObject(static_cast<unsigned>(i));
    if (event->getValue<std::string>("type") == "PushEvent") {
      std::ostringstream out;
      event->stringify(out);
      return etl::Record("github_events", out.str());
    }
  }
  throw std::runtime_error("no PushEvent in " + file);
}

TEST(PushEventRow, ParsesThe2026ShapeWithoutSizeOrCommits) {
  etl::Record event = recordedPush("api_events_2026-01-12.json");
  etl::Record row("push_events", push_events::rowFromEvent(event));
  EXPECT_EQ(row.get<int64_t>("push_id"), event.get<int64_t>("payload.push_id"));
  EXPECT_EQ(row.get<int64_t>("repository_id"), event.get<int64_t>("payload.repository_id"));
  EXPECT_EQ(row.get<std::string>("event_id"), event.get<std::string>("id"));
  EXPECT_EQ(row.get<std::string>("head").size(), 40u);
  EXPECT_FALSE(row.has("size"));
  EXPECT_FALSE(row.has("commit_count"));
}

TEST(PushEventRow, ParsesThe2020ShapeWithCommitsAndNoRepositoryId) {
  etl::Record event = recordedPush("api_events_2020-04-25.json");
  ASSERT_FALSE(event.has("payload.repository_id"));
  etl::Record row("push_events", push_events::rowFromEvent(event));
  EXPECT_EQ(row.get<int64_t>("repository_id"), event.get<int64_t>("repo.id"));
  EXPECT_EQ(row.get<int64_t>("size"), event.get<int64_t>("payload.size"));
  EXPECT_EQ(row.get<int64_t>("distinct_size"), event.get<int64_t>("payload.distinct_size"));
  EXPECT_EQ(static_cast<std::size_t>(row.get<int64_t>("commit_count")),
            *event.count("payload.commits"));
}

TEST(PushEventRow, EveryRecordedPushEventOfEveryEraBecomesARow) {
  // Every PushEvent the fixtures hold: API pages 2012-2026 and a GH Archive hour of 2021.
  std::vector<std::string> events;
  for (Poco::DirectoryIterator it(etltest::dataDir() + "/events"), end; it != end; ++it) {
    std::ifstream in(it->path());
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    auto exchanges = parser.parse(in).extract<Poco::JSON::Object::Ptr>()->getArray("exchanges");
    for (std::size_t x = 0; exchanges && x < exchanges->size(); ++x) {
      auto body =
          exchanges->getObject(static_cast<unsigned>(x))->getObject("response")->get("body");
      if (body.type() != typeid(Poco::JSON::Array::Ptr)) continue;
      auto page = body.extract<Poco::JSON::Array::Ptr>();
      for (std::size_t i = 0; i < page->size(); ++i) {
        std::ostringstream out;
        page->getObject(static_cast<unsigned>(i))->stringify(out);
        events.push_back(out.str());
      }
    }
  }
  for (const auto& line : etltest::readLines(
           etltest::dataDir() + "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl")) {
    events.push_back(line);
  }
  int pushes = 0, withoutBefore = 0;
  for (const auto& json : events) {
    etl::Record event("github_events", json);
    if (event.get<std::string>("type") != "PushEvent") continue;
    ++pushes;
    std::string row;
    ASSERT_NO_THROW(row = push_events::rowFromEvent(event)) << json.substr(0, 300);
    etl::Record parsed("push_events", row);
    EXPECT_EQ(parsed.get<int64_t>("push_id"), event.get<int64_t>("payload.push_id"));
    EXPECT_EQ(parsed.find<std::string>("before"), event.find<std::string>("payload.before"));
    withoutBefore += event.has("payload.before") ? 0 : 1;
  }
  EXPECT_GT(pushes, 80);
  EXPECT_GT(withoutBefore, 20) << "the 2012 shape (no payload.before) must be among them";
}

TEST(PushEventRow, NamesTheMissingRequiredField) {
  etl::Record event("e", R"({"id":"1","type":"PushEvent","actor":{"id":1},"repo":{"id":2},)"
                         R"("payload":{"ref":"r","head":"h","before":"b"},"created_at":"t"})");
  try {
    push_events::rowFromEvent(event);
    FAIL();
  } catch (const etl::FieldError& e) {
    EXPECT_STREQ(e.what(), "field 'payload.push_id' is missing");
  }
}

std::string value(const sql::Connection& c, const std::string& key) {
  for (std::size_t i = 0; i < c.keywords.size(); ++i) {
    if (c.keywords[i] == key) return c.values[i];
  }
  return "<unset>";
}

TEST(ConnectionString, LibpqParsesUrisWithEncodedPasswordsAndKeyValueWithQuotes) {
  // A password with a space, a quote and a backslash, percent-encoded in a URI.
  auto c = sql::parseConnection(
      "postgresql://etl:pa%20ss%27%5Cx@db.example:6543/events?sslmode=require", "");
  EXPECT_EQ(value(c, "user"), "etl");
  EXPECT_EQ(value(c, "password"), "pa ss'\\x");
  EXPECT_EQ(value(c, "port"), "6543");
  EXPECT_EQ(value(c, "sslmode"), "require");
  EXPECT_EQ(value(c, "connect_timeout"), "10");
  EXPECT_EQ(c.description, "postgresql://etl@db.example:6543/events");
  // The same password in key=value form, quoted and escaped the libpq way.
  auto kv = sql::parseConnection(R"(host=/tmp port=5 dbname=x user=u password='pa ss\'\\x')", "");
  EXPECT_EQ(value(kv, "password"), "pa ss'\\x");
  EXPECT_EQ(kv.description, "postgresql://u@/tmp:5/x");
}

TEST(ConnectionString, AMistakeIsPermanentAndNeverEchoesThePassword) {
  try {
    sql::parseConnection("host=h user=u password=hunter2 bogus_option=1", "");
    FAIL() << "an invalid option was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bogus_option"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  try {
    sql::parseConnection("postgresql://u:hunter2%zz@h/d", "");
    FAIL() << "a bad percent-encoding was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

TEST(ConnectionString, PasswordComesFromTheEnvironmentAndIsScrubbed) {
  setenv("ETLTEST_DB_PASSWORD", "from-env-secret", 1);
  auto c = sql::parseConnection("postgresql://etl@h:1/d", "ETLTEST_DB_PASSWORD");
  EXPECT_EQ(value(c, "password"), "from-env-secret");
  std::string driver = "Connection failed: from-env-secret rejected and password=other";
  std::string clean = sql::scrub(driver, c);
  EXPECT_EQ(clean.find("secret"), std::string::npos) << clean;
  EXPECT_EQ(clean.find("other"), std::string::npos) << clean;
  EXPECT_EQ(sql::scrub("see postgresql://u:pw@h/d", c), "see postgresql://u:<redacted>@h/d");
}

}  // namespace
