// What a checkpoint carries besides the source's position (checkpoint_identity.h): the split
// gives the position back byte for byte, and no credential goes into an identity.
#include "checkpoint_identity.h"

#include <gtest/gtest.h>

namespace {

TEST(CheckpointIdentity, TheSourcesPositionComesBackByteForByte) {
  const std::string identity =
      R"({"sink":{"plugin":"sql","tables":["t"]},"source":{"plugin":"file"}})";
  for (std::string position :
       {std::string(
            R"({"done":{"/data/a,\"etl_written_by\":{\"x\":1}}.json":[1,2]},"partial":{}})"),
        std::string("offset=17 (not JSON)"), std::string("{\"position\":1,\"etl_written_by\":2}"),
        std::string("\xff\xfe raw bytes")}) {
    std::string stored = etl::stampCheckpoint(identity, position, false);
    auto split = etl::splitCheckpoint(stored, false);
    EXPECT_EQ(split.position, position);
    ASSERT_TRUE(split.identity.has_value());
    EXPECT_TRUE(etl::sameIdentity(*split.identity, identity));
  }
  // An earlier etlrun's checkpoint (no identity) is the position, whole.
  auto old = etl::splitCheckpoint(R"({"done":{},"partial":{}})", false);
  EXPECT_FALSE(old.identity.has_value());
  EXPECT_EQ(old.position, R"({"done":{},"partial":{}})");
  EXPECT_EQ(etl::stampCheckpoint(identity, "", false), "");
}

TEST(CheckpointIdentity, APartitionedCheckpointCarriesItAsOnePartAndIsKnownAsSuchElsewhere) {
  const std::string identity = R"({"sink":{"plugin":"sql"},"source":{"plugin":"kafka_consumer"}})";
  std::string stored = etl::stampCheckpoint(identity, R"({"events/0":17,"events/1":9})", true);
  auto split = etl::splitCheckpoint(stored, true);
  EXPECT_EQ(split.position, R"({"events/0":17,"events/1":9})");
  EXPECT_TRUE(split.identity && etl::sameIdentity(*split.identity, identity));
  EXPECT_EQ(etl::stampCheckpoint(identity, "{}", true), "{\"etl_written_by\":" + identity + "}");
  // Read by a pipeline of one position with the same name: it is another pipeline's, not an
  // earlier etlrun's.
  auto seen = etl::splitCheckpoint(stored, false);
  EXPECT_TRUE(seen.identity && etl::sameIdentity(*seen.identity, identity));
}

TEST(CheckpointIdentity, NoCredentialGoesIntoAnIdentity) {
  EXPECT_EQ(etl::withoutSecrets("https://ghp_TOKEN123@api.example.com:8443/v3?access_token=t#x"),
            "https://api.example.com:8443/v3");
  EXPECT_EQ(etl::withoutSecrets("postgresql://etl:pa@ss@db.example.com:5432/etl?sslpassword=s"),
            "postgresql://db.example.com:5432/etl");
  EXPECT_EQ(
      etl::withoutSecrets("host=db port=5432 user=etl password='x y' dbname=etl sslpassword=z"),
      "host=db port=5432 dbname=etl");
  EXPECT_EQ(etl::withoutSecrets("/orgs/acme/events"), "/orgs/acme/events");
}

}  // namespace
