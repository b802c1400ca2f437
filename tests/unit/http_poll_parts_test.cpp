// The http_poll source's parts on their own: answers, URLs, the order of since values, the state.
#include <gtest/gtest.h>

#include "etl/errors.h"
#include "json_answer.h"
#include "page_urls.h"
#include "poll_state.h"
#include "since_order.h"

namespace {

TEST(HttpPollAnswer, TakesEachElementVerbatimAndTheNextValue) {
  auto answer = http_poll::parseAnswer(
      R"({"data":{"results":[ {"a": 1.50} , 2e3,"x" ]},"paging":{"next":"/p?page=2"}})",
      "data.results", "paging.next");
  ASSERT_EQ(answer.records.size(), 3u);
  EXPECT_EQ(answer.records[0], R"({"a": 1.50})");
  EXPECT_EQ(answer.records[1], "2e3");
  EXPECT_EQ(answer.records[2], "\"x\"");
  EXPECT_EQ(answer.next, "/p?page=2");
}

TEST(HttpPollAnswer, TheEndOfPagesTakesManyForms) {
  for (const char* next : {"null", "\"\"", "false"}) {
    auto answer = http_poll::parseAnswer(std::string("{\"items\":[],\"next\":") + next + "}",
                                         "items", "next");
    EXPECT_FALSE(answer.next) << next;
  }
  EXPECT_FALSE(http_poll::parseAnswer(R"({"items":[]})", "items", "next").next);
  EXPECT_EQ(http_poll::parseAnswer(R"({"items":[],"next":12345678901234})", "items", "next").next,
            "12345678901234");
  EXPECT_THROW(http_poll::parseAnswer(R"({"items":[],"next":{"a":1}})", "items", "next"),
               http_poll::AnswerError);
}

TEST(HttpPollAnswer, TheWholeAnswerAsArrayOrOneObject) {
  EXPECT_EQ(http_poll::parseAnswer("[1,{\"b\":2}]\n", "", "").records.size(), 2u);
  auto one = http_poll::parseAnswer("{\"b\":2}\n", "", "");
  ASSERT_EQ(one.records.size(), 1u);
  EXPECT_EQ(one.records[0], "{\"b\":2}");
  EXPECT_THROW(http_poll::parseAnswer("42", "", ""), http_poll::AnswerError);
}

TEST(HttpPollAnswer, ADamagedAnswerGivesNoRecordAtAll) {
  for (const char* body : {R"({"items":[{"id":1},{"id":2)", R"({"items":[{"id":1}]} trailing)",
                           "<html></html>", "", R"({"items":[{"id":1,}]})"}) {
    try {
      http_poll::parseAnswer(body, "items", "");
      ADD_FAILURE() << "accepted: " << body;
    } catch (const http_poll::AnswerError& e) {
      EXPECT_NE(std::string(e.what()).find("not JSON"), std::string::npos) << e.what();
    }
  }
}

TEST(HttpPollUrls, TheParameterIsSetOnceAndEncoded) {
  EXPECT_EQ(http_poll::withQueryParameter("https://h/items", "since", "2024-05-01T10:00:00Z"),
            "https://h/items?since=2024-05-01T10%3A00%3A00Z");
  EXPECT_EQ(http_poll::withQueryParameter("https://h/items?a=1&since=old&b=%2F", "since", "a b"),
            "https://h/items?a=1&b=%2F&since=a%20b");
  EXPECT_EQ(http_poll::withQueryParameter("https://h/items?x=1#top", "cursor", "c+1"),
            "https://h/items?x=1&cursor=c%2B1#top");
}

TEST(HttpPollUrls, RedactedUrlsKeepNoCredentials) {
  EXPECT_EQ(http_poll::redactedUrl("https://user:pw@h:8443/a?api_key=s3&page=2&access_token=t"),
            "https://h:8443/a?api_key=***&page=2&access_token=***");
  EXPECT_EQ(http_poll::redactedUrl("http://h/a?since=2024"), "http://h/a?since=2024");
}

TEST(HttpPollSince, IntegersByValueOtherwiseText) {
  using http_poll::compareSince;
  EXPECT_LT(compareSince("9", "10"), 0);
  EXPECT_GT(compareSince("18446744073709551616", "9223372036854775807"), 0);
  EXPECT_LT(compareSince("-5", "3"), 0);
  EXPECT_LT(compareSince("-5", "-3"), 0);
  EXPECT_EQ(compareSince("007", "7"), 0);
  EXPECT_LT(compareSince("1.5", "10"), 0);
  EXPECT_LT(compareSince("2024-05-01T09:59:59Z", "2024-05-01T10:00:00Z"), 0);
}

TEST(HttpPollState, RoundTripsAndRefusesWhatIsNotOne) {
  http_poll::PollState state;
  state.etag = "W/\"1\"";
  state.since.see("5", "a");
  state.since.see("7", "b");
  state.since.see("7", "c");
  state.since.see("6", "d");
  state.walk.active = true;
  state.walk.next = "https://h/items?page=3";
  auto back = http_poll::PollState::fromJson(state.toJson());
  EXPECT_EQ(back.etag, state.etag);
  EXPECT_EQ(back.since.value, "7");
  EXPECT_EQ(back.since.keys, (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(back.since.holds("7", "c"));
  EXPECT_FALSE(back.since.holds("7", "d"));
  EXPECT_TRUE(back.walk.active);
  EXPECT_EQ(back.walk.next, state.walk.next);
  EXPECT_THROW(http_poll::PollState::fromJson("[1]"), etl::CheckpointError);
  EXPECT_THROW(http_poll::PollState::fromJson("{\"walk\":{\"next\":\"\"}}"), etl::CheckpointError);
  EXPECT_FALSE(http_poll::PollState::fromJson("").walk.active);
}

}  // namespace
