#include "etl/record.h"

#include <gtest/gtest.h>

#include "event_generator.h"
#include "test_env.h"

namespace {

const char* kEvent =
    R"({"id":"17244207336","type":"PushEvent","actor":{"id":71354125,"login":"bot[bot]"},)"
    R"("payload":{"push_id":7561703426,"size":2,"ref":"refs/heads/main","commits":[{"sha":"abc"}],)"
    R"("ratio":0.5,"flag":true,"nothing":null,"a/b":"slash"},"public":true})";

TEST(Record, ReadsTypedFieldsByDottedPath) {
  etl::Record r("github_events", kEvent);
  EXPECT_EQ(r.get<std::string>("id"), "17244207336");
  EXPECT_EQ(r.get<std::string>("type"), "PushEvent");
  EXPECT_EQ(r.get<int64_t>("actor.id"), 71354125);
  EXPECT_EQ(r.get<int64_t>("payload.push_id"), 7561703426LL);
  EXPECT_EQ(r.get<std::string>("payload.commits.0.sha"), "abc");
  EXPECT_DOUBLE_EQ(r.get<double>("payload.ratio"), 0.5);
  EXPECT_TRUE(r.get<bool>("payload.flag"));
  EXPECT_EQ(r.get<std::string>("payload.a/b"), "slash");
  EXPECT_EQ(r.raw(), kEvent) << "the bytes stay verbatim";
}

TEST(Record, MissingNullAndMistypedFieldsGiveClearErrors) {
  etl::Record r("s", kEvent);
  EXPECT_FALSE(r.find<int64_t>("payload.repository_id").has_value());
  EXPECT_FALSE(r.find<std::string>("payload.nothing").has_value());
  EXPECT_FALSE(r.find<std::string>("payload.commits.5.sha").has_value());
  try {
    r.get<int64_t>("payload.repository_id");
    FAIL();
  } catch (const etl::FieldError& e) {
    EXPECT_STREQ(e.what(), "field 'payload.repository_id' is missing");
  }
  try {
    r.get<int64_t>("id");
    FAIL();
  } catch (const etl::FieldError& e) {
    EXPECT_STREQ(e.what(), "field 'id' is a string, expected an integer");
  }
  try {
    r.get<std::string>("payload.nothing");
    FAIL();
  } catch (const etl::FieldError& e) {
    EXPECT_STREQ(e.what(), "field 'payload.nothing' is null");
  }
  EXPECT_THROW(r.find<std::string>("actor.id"), etl::FieldError) << "wrong type is not 'missing'";
  EXPECT_TRUE(r.has("payload.size"));
  EXPECT_FALSE(r.has("payload.distinct_size"));
}

TEST(Record, InvalidJsonIsReportedNotCrashed) {
  etl::Record truncated("s", R"({"id":"1","type":"Push)");
  EXPECT_THROW(truncated.get<std::string>("type"), etl::FieldError);
  EXPECT_FALSE(truncated.jsonError().empty());
  etl::Record garbage("s", "not json at all");
  EXPECT_THROW(garbage.get<std::string>("id"), etl::FieldError);
  EXPECT_FALSE(garbage.jsonError().empty());
  EXPECT_EQ(etl::Record("s", kEvent).jsonError(), "");
}

TEST(Record, CopiesAndMovesKeepWorking) {
  etl::Record original("s", kEvent, "k");
  etl::Record copy = original;
  etl::Record moved = std::move(copy);
  std::vector<etl::Record> many(100, moved);
  for (const auto& r : many) EXPECT_EQ(r.get<int64_t>("actor.id"), 71354125);
  EXPECT_EQ(many.back().key(), "k");
}

TEST(Record, ReadsEveryRecordedEvent) {
  // Every recorded event of both shapes yields the fields the pipelines read.
  for (const auto& line : etltest::templateEvents(etltest::dataDir())) {
    etl::Record r("github_events", line);
    EXPECT_FALSE(r.get<std::string>("id").empty());
    EXPECT_GT(r.get<int64_t>("actor.id"), 0);
    EXPECT_GT(r.get<int64_t>("repo.id"), 0);
    if (r.get<std::string>("type") == "PushEvent") {
      EXPECT_GT(r.get<int64_t>("payload.push_id"), 0);
    }
  }
}

TEST(Record, AppendJsonStringEscapes) {
  std::string out;
  etl::appendJsonString(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
  etl::Record r("s", "{\"v\":" + out + "}");
  EXPECT_EQ(r.get<std::string>("v"), "a\"b\\c\n\x01");
}

}  // namespace

namespace {

TEST(Record, CountsArraysAndObjects) {
  etl::Record r("s", kEvent);
  EXPECT_EQ(r.count("payload.commits"), 1u);
  EXPECT_EQ(r.count("actor"), 2u);
  EXPECT_FALSE(r.count("payload.size").has_value()) << "a scalar has no count";
  EXPECT_FALSE(r.count("payload.missing").has_value());
  etl::Record empty("s", R"({"a":[],"o":{}})");
  EXPECT_EQ(empty.count("a"), 0u);
  EXPECT_EQ(empty.count("o"), 0u);
}

TEST(Record, InterleavedLookupsOnSeveralRecordsStayCorrect) {
  // The per-thread parse cache must never answer for another record.
  std::vector<etl::Record> records;
  for (int i = 0; i < 50; ++i) {
    records.emplace_back(
        "s", "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i, 'x') + "\"}");
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(records[i].get<int64_t>("n"), i);
      EXPECT_FALSE(records[i].find<int64_t>("missing").has_value());
      EXPECT_EQ(records[(i * 7) % 50].get<int64_t>("n"), (i * 7) % 50);
      EXPECT_THROW(records[i].get<bool>("n"), etl::FieldError);
      EXPECT_EQ(records[i].get<std::string>("pad").size(), static_cast<std::size_t>(i));
    }
  }
  // A record moved elsewhere and one copied keep answering for their own bytes.
  etl::Record moved = std::move(records[10]);
  etl::Record copied = records[11];
  EXPECT_EQ(moved.get<int64_t>("n"), 10);
  EXPECT_EQ(copied.get<int64_t>("n"), 11);
  records[10] = copied;
  EXPECT_EQ(records[10].get<int64_t>("n"), 11);
}

}  // namespace

namespace {

TEST(Record, NeverKeepsAnOversizedBuffer) {
  std::string grown;
  grown.reserve(1 << 20);  // as a getline or append loop might leave it
  grown = kEvent;
  etl::Record r("s", std::move(grown));
  EXPECT_LE(r.raw().capacity(), 2 * (r.raw().size() + etl::Record::kPadding));
  EXPECT_EQ(r.get<int64_t>("actor.id"), 71354125);
}

TEST(RecordText, TheValidatedDocumentAnswersAsTheLazyViewDoes) {
  const std::string json =
      R"({"s":"a\"b\u00e9\n","i":-42,"u":18446744073709551615,"d":1.5,"t":true,"f":false,)"
      R"("n":null,"o":{"k":[1,{"x":"y"}]},"a":[10,20],"e":"","big":12345678901234})";
  const char* paths[] = {"s",     "i",       "u",   "d", "t",   "f",       "n",
                         "o.k.0", "o.k.1.x", "a.1", "e", "big", "missing", "a.9"};
  etl::Record lazy("r", json), validated("r", json);
  ASSERT_EQ(validated.jsonError(), "");
  for (const char* path : paths) {
    EXPECT_EQ(validated.text(path), lazy.text(path)) << path;
  }
  // Containers come back as JSON either way: the same values, whitespace aside.
  EXPECT_EQ(*validated.text("o"), R"({"k":[1,{"x":"y"}]})");
  EXPECT_EQ(*lazy.text("a"), "[10,20]");
  EXPECT_EQ(*validated.text("a"), "[10,20]");
  EXPECT_THROW(validated.text("s.x"), etl::FieldError);
  // Another record on the same thread does not read the cached document.
  etl::Record other("r", R"({"s":"other"})");
  EXPECT_EQ(*other.text("s"), "other");
  EXPECT_EQ(*validated.text("s"), "a\"b\u00e9\n");
}

}  // namespace

namespace {

// A number's text reaches the database as written, whether the record was validated (parsed
// whole) or not: 1.10 stays 1.10, 1E+2 stays 1E+2, and integers beyond 64 bits or 1e400 (valid
// JSON, which PostgreSQL's jsonb takes) are neither refused nor rounded.
TEST(Record, NumbersKeepTheirDigitsAsWritten) {
  const std::string doc =
      R"({"a":1.10,"b":1E+2,"c":123456789012345678901234567890,"d":1e400,"e":-0,"f":[2.50],)"
      R"("g":{"h":0.1e-7},"s":"x"})";
  for (bool validated : {false, true}) {
    etl::Record r("s", doc);
    if (validated) {
      ASSERT_EQ(r.jsonError(), "");
    }
    EXPECT_EQ(r.text("a"), "1.10") << validated;
    EXPECT_EQ(r.text("b"), "1E+2") << validated;
    EXPECT_EQ(r.text("c"), "123456789012345678901234567890") << validated;
    EXPECT_EQ(r.text("d"), "1e400") << validated;
    EXPECT_EQ(r.text("e"), "-0") << validated;
    EXPECT_EQ(r.text("f.0"), "2.50") << validated;
    EXPECT_EQ(r.text("g.h"), "0.1e-7") << validated;
    EXPECT_EQ(r.text("s"), "x") << validated;
  }
}

// Documents simdjson refuses only for a number it cannot hold are checked by the grammar: still
// valid with big numbers, still invalid with any other mistake beside them.
TEST(Record, BigNumbersAreValidJsonAndOtherMistakesBesideThemAreNot) {
  for (const char* valid : {"99999999999999999999999", "[1e400, -1e-400]",
                            R"({"n":123456789012345678901, "s":"\u00e9\ud83d\ude00"})",
                            " { \"a\" : [ 1e999 , true , false , null , {} , [] ] } "}) {
    EXPECT_EQ(etl::Record("s", valid).jsonError(), "") << valid;
  }
  for (const char* invalid :
       {"[1e400,]", "[1e400, 01]", "[1e400, 1.]", "[1e400, -]", R"({"a" 1e400})",
        R"(["\x", 1e400])", "[1e400, tru]", R"(["\ud800", 1e400])", "[1e400] x", "{1e400: 1}",
        "[1e400, \"a\tb\"]"}) {
    EXPECT_NE(etl::Record("s", invalid).jsonError(), "") << invalid;
  }
  std::string deep = std::string(2000, '[') + "1e400" + std::string(2000, ']');
  EXPECT_NE(etl::Record("s", deep).jsonError(), "");
}

}  // namespace

namespace {

// One rule for duplicate keys: a validated record holding a key twice in one object is invalid
// (readers disagree on which value counts: a `where` sees the first, jsonb keeps the last).
TEST(Record, AKeyTwiceInOneObjectIsInvalid) {
  for (const char* twice :
       {R"({"type":"PushEvent","type":"WatchEvent"})", R"({"a":{"b":1,"c":2,"b":3}})",
        R"([{"x":1},{"y":1,"y":2}])", R"({"n":1e400,"n":2})"}) {
    std::string why = etl::Record("s", twice).jsonError();
    EXPECT_NE(why.find(std::string(twice).find("1e400") == std::string::npos
                           ? "duplicate key"
                           : "a key twice in one object"),
              std::string::npos)
        << twice << ": " << why;
  }
  for (const char* once :
       {R"({"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]})", R"({"n":1e400,"m":2})"}) {
    EXPECT_EQ(etl::Record("s", once).jsonError(), "") << once;
  }
}

}  // namespace
