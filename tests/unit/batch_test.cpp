// settleOrigins: the records a transform made from one input are stored together or not at all,
// and a refusal of any of them is one dead letter holding the input, with every reason.
#include "etl/batch.h"

#include <gtest/gtest.h>

namespace {

// `count` records made from `input`, as a transform makes them.
std::vector<etl::Record> madeFrom(const etl::Record& input, int count) {
  std::vector<etl::Record> out;
  auto origin = etl::Record::originOf(input);
  for (int i = 0; i < count; ++i) {
    out.emplace_back("rows", "{\"n\":" + std::to_string(i) + "}", input.key());
    out.back().setOrigin(origin);
  }
  return out;
}

TEST(SettleOrigins, ARefusedRecordTakesItsSiblingsAlongAndLeavesOneLetterHoldingTheInput) {
  etl::Record a("orders", R"({"id":"A"})", "ka"), b("orders", R"({"id":"B"})", "kb");
  etl::Batch batch;
  auto fromA = madeFrom(a, 3), fromB = madeFrom(b, 2);
  // A's records 0 and 2 are refused (by two plugins); A's record 1 and B's stay in the batch.
  batch.records = {fromB[0], fromA[1], fromB[1]};
  batch.deadLetters.push_back({fromA[0], "sql", "CHECK qty > 0"});
  batch.deadLetters.push_back({etl::Record("orders", "not json"), "file", "invalid JSON"});
  batch.deadLetters.push_back({fromA[2], "validate", "unit_price is missing"});

  EXPECT_EQ(etl::settleOrigins(batch), 1u);  // A's record 1 left without a letter of its own
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].raw(), R"({"n":0})");
  EXPECT_EQ(batch.records[1].raw(), R"({"n":1})");
  EXPECT_EQ(batch.records[0].origin()->raw(), R"({"id":"B"})");
  ASSERT_EQ(batch.deadLetters.size(), 2u);
  // The input itself, as the source read it (stream and key too), with both reasons in order.
  EXPECT_EQ(batch.deadLetters[0].record.raw(), R"({"id":"A"})");
  EXPECT_EQ(batch.deadLetters[0].record.stream(), "orders");
  EXPECT_EQ(batch.deadLetters[0].record.key(), "ka");
  EXPECT_EQ(batch.deadLetters[0].reason, "CHECK qty > 0; unit_price is missing");
  EXPECT_EQ(batch.deadLetters[0].plugin, "sql, validate");
  EXPECT_FALSE(batch.deadLetters[0].record.origin());
  // A letter about a record nobody made from another stays as it was.
  EXPECT_EQ(batch.deadLetters[1].record.raw(), "not json");
  EXPECT_EQ(batch.deadLetters[1].reason, "invalid JSON");
}

TEST(SettleOrigins, NothingRefusedChangesNothing) {
  etl::Record a("orders", R"({"id":"A"})");
  etl::Batch batch;
  batch.records = madeFrom(a, 4);
  EXPECT_EQ(etl::settleOrigins(batch), 0u);
  EXPECT_EQ(batch.records.size(), 4u);
  EXPECT_TRUE(batch.deadLetters.empty());
}

TEST(SettleOrigins, AChainOfTransformsKeepsTheRecordTheSourceRead) {
  etl::Record input("orders", R"({"id":"A"})");
  auto first = madeFrom(input, 2);
  auto second = madeFrom(first[1], 2);  // a second transform on the first one's output
  EXPECT_EQ(second[0].origin().get(), first[0].origin().get());
  etl::Batch batch;
  batch.records = {first[0], second[0]};
  batch.reject(second[1], "refused");
  EXPECT_EQ(etl::settleOrigins(batch), 2u);
  EXPECT_TRUE(batch.records.empty());
  ASSERT_EQ(batch.deadLetters.size(), 1u);
  EXPECT_EQ(batch.deadLetters[0].record.raw(), R"({"id":"A"})");
}

}  // namespace
