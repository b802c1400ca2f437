#include <Poco/JSON/Parser.h>
#include <Poco/String.h>
#include <gtest/gtest.h>

#include <fstream>

#include "event_page.h"
#include "link_header.h"
#include "recent_ids.h"
#include "test_env.h"

TEST(LinkHeader, ParsesRecordedGitHubLinks) {
  auto links = http_paging::parseLinkHeader(
      "<https://api.github.com/events?page=2>; rel=\"next\", "
      "<https://api.github.com/events?page=10>; rel=\"last\"");
  EXPECT_EQ(links["next"], "https://api.github.com/events?page=2");
  EXPECT_EQ(links["last"], "https://api.github.com/events?page=10");
  // The recorded pagination where URLs switch to /repositories/{id}/...: kept verbatim.
  std::ifstream in(etltest::dataDir() + "/headers/link_pagination_issues_2022-07-19.json");
  auto root = Poco::JSON::Parser().parse(in).extract<Poco::JSON::Object::Ptr>();
  auto exchanges = root->getArray("exchanges");
  std::string lastNext;
  for (std::size_t i = 0; i < exchanges->size(); ++i) {
    auto headers =
        exchanges->getObject(static_cast<unsigned>(i))->getObject("response")->getArray("headers");
    for (std::size_t h = 0; h < headers->size(); ++h) {
      auto pair = headers->getArray(static_cast<unsigned>(h));
      if (Poco::icompare(pair->getElement<std::string>(0), "link") == 0) {
        auto parsed = http_paging::parseLinkHeader(pair->getElement<std::string>(1));
        if (parsed.count("next")) lastNext = parsed["next"];
        EXPECT_TRUE(parsed.count("prev") || parsed.count("next"));
      }
    }
  }
  EXPECT_NE(lastNext.find("/repositories/"), std::string::npos) << lastNext;
  EXPECT_TRUE(http_paging::parseLinkHeader("").empty());
}

TEST(EventPage, KeepsEachEventsBytesVerbatim) {
  std::string a = R"({"id":"2","type":"PushEvent","payload":{"push_id":1,"s":"a\"b"}})";
  std::string b = R"({ "id" : "1", "type" : "WatchEvent" })";
  auto events = github::parseEventPage("[" + a + ",\n  " + b + "]");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].raw, a);
  EXPECT_EQ(events[0].id, "2");
  EXPECT_EQ(events[1].raw, b);
  EXPECT_EQ(events[1].id, "1");
  EXPECT_TRUE(github::parseEventPage("[]").empty());
  EXPECT_EQ(github::parseEventPage(R"([{"type":"PushEvent"}])").at(0).id, "")
      << "no id, still kept";
  EXPECT_THROW(github::parseEventPage(R"([{"id":"1","type":)"), std::runtime_error);
  EXPECT_THROW(github::parseEventPage(R"({"message":"Server Error"})"), std::runtime_error);
  EXPECT_THROW(github::parseEventPage("<html>"), std::runtime_error);
}

TEST(RecentIds, IsBoundedAndForgetsTheOldest) {
  github::RecentIds ids(3);
  for (const char* id : {"a", "b", "c", "b", "d"}) ids.add(id);
  EXPECT_FALSE(ids.contains("a"));
  EXPECT_TRUE(ids.contains("b"));
  EXPECT_TRUE(ids.contains("d"));
  EXPECT_EQ(ids.list(), (std::vector<std::string>{"b", "c", "d"}));
}
