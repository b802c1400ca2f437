#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>

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

TEST(ConnectionString, UriBecomesKeyValuesAndADescriptionWithoutPassword) {
  auto c =
      store::parseConnection("postgresql://etl:pa ss@db.example:6543/events?sslmode=require", "");
  EXPECT_NE(c.conninfo.find("user=etl"), std::string::npos) << c.conninfo;
  EXPECT_NE(c.conninfo.find("password='pa ss'"), std::string::npos) << c.conninfo;
  EXPECT_NE(c.conninfo.find("port=6543"), std::string::npos);
  EXPECT_NE(c.conninfo.find("sslmode=require"), std::string::npos);
  EXPECT_EQ(c.description, "postgresql://etl@db.example:6543/events");
  auto kv = store::parseConnection("host=/tmp port=5 dbname=x user=u", "");
  EXPECT_EQ(kv.description, "postgresql://u@/tmp:5/x");
}

TEST(ConnectionString, PasswordComesFromTheEnvironmentAndIsScrubbed) {
  setenv("ETLTEST_DB_PASSWORD", "from-env-secret", 1);
  auto c = store::parseConnection("postgresql://etl@h:1/d", "ETLTEST_DB_PASSWORD");
  EXPECT_NE(c.conninfo.find("password=from-env-secret"), std::string::npos);
  std::string poco = "Connection failed: " + c.conninfo + " and password=other";
  std::string clean = store::scrub(poco, c);
  EXPECT_EQ(clean.find("secret"), std::string::npos) << clean;
  EXPECT_EQ(clean.find("other"), std::string::npos) << clean;
  EXPECT_NE(clean.find("postgresql://etl@h:1/d"), std::string::npos) << clean;
  EXPECT_EQ(store::scrub("see postgresql://u:pw@h/d", c), "see postgresql://u:<redacted>@h/d");
}

}  // namespace
