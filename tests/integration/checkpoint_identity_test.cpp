// A checkpoint knows which pipeline wrote it (its source's feed, its sink's tables or topic). Two
// pipeline files with one pipeline name and one store would otherwise share it: the second would
// skip what the first read and store nothing. Each store is tried: etl_checkpoints on PostgreSQL
// and SQLite, a consumer group's parts, Kafka's checkpoint topic, the state file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <optional>
#include <sstream>

#include "backends.h"
#include "event_generator.h"
#include "fake_github.h"
#include "kafka_mock.h"
#include "postgres_env.h"
#include "test_env.h"

namespace {

const char* kRefused = "was written by another pipeline";

class Identity : public testing::TestWithParam<etltest::Backend> {
 protected:
  bool sqlite() const { return GetParam() == etltest::Backend::Sqlite; }
  void SetUp() override {
    if (!sqlite()) db_.emplace(GetParam(), "");
    templates_ = etltest::templateEvents(etltest::dataDir());
    std::filesystem::create_directories(dir_ / "in");
    etltest::writeEvents(templates_, 40, 1000, dir_ / "in/a.jsonl");
  }
  std::string uri() const { return sqlite() ? "sqlite:" + (dir_ / "store.sqlite") : db_->uri(); }

  // Pipeline `name` in `file`: the input folder into `tables` (name -> columns), `extra` at the
  // end of the pipeline block.
  std::string write(const std::string& file, const std::string& name, const std::string& tables,
                    const std::string& extra = "") {
    etltest::writeFile(dir_ / file,
                       "pipelines:\n  " + name + ":\n    source: {plugin: file, path: \"" +
                           (dir_ / "in/*.jsonl") +
                           "\"}\n    sink:\n      plugin: sql\n      connection: \"" + uri() +
                           "\"\n      create: auto\n      tables:\n" + tables + extra);
    return dir_ / file;
  }
  etltest::ProcessResult run(const std::vector<std::string>& args) {
    std::vector<std::string> all{"--state-dir=" + (dir_ / "state")};
    all.insert(all.end(), args.begin(), args.end());
    return etltest::runEtlrun(all);
  }
  etltest::ProcessResult once(const std::string& file) { return run({"--once", file}); }
  int64_t count(const std::string& table) {
    try {
      return std::stoll(query("SELECT count(*) FROM " + table).at(0));
    } catch (const std::exception&) {
      return 0;  // never created
    }
  }
  std::vector<std::string> query(const std::string& statement) {
    if (!sqlite()) return db_->column(statement);
    sqlite3* db = nullptr;
    sqlite3_open((dir_ / "store.sqlite").c_str(), &db);
    std::vector<std::string> rows;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, statement.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      std::string error = sqlite3_errmsg(db);
      sqlite3_close(db);
      throw std::runtime_error(error);
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      auto text = sqlite3_column_text(s, 0);
      rows.push_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
  }

  static constexpr const char* kRaw =
      "        raw: {stream: events, key: [id], columns: {id: id}}\n";
  etltest::TempDir dir_;
  std::optional<etltest::BackendDb> db_;  // PostgreSQL or MariaDB
  std::vector<std::string> templates_;
};

TEST_P(Identity, ASecondPipelineFileOfTheSameNameRefusesTheFirstsCheckpointAndStoresNothing) {
  std::string a = write("a.yaml", "load", kRaw);
  auto loaded = once(a);
  ASSERT_EQ(loaded.exitCode, 0) << loaded.err;
  ASSERT_EQ(count("raw"), 40);
  // Another file, the same pipeline name and store, the same input into other tables.
  std::string b =
      write("b.yaml", "load", "        copy: {stream: events, key: [id], columns: {id: id}}\n");
  for (int attempt = 0; attempt < 2; ++attempt) {  // every start refuses alike
    auto refused = once(b);
    EXPECT_EQ(refused.exitCode, 78) << refused.err;
    EXPECT_NE(refused.err.find(kRefused), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("file -> sql (tables: [\"raw\"])"), std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("this one is file -> sql (tables: [\"copy\"])"), std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("`etlrun checkpoint " + b +
                               " adopt --pipeline=load --state-dir=" + (dir_ / "state") + "`"),
              std::string::npos)
        << refused.err;
    EXPECT_EQ(refused.err.find("already read (skipped)"), std::string::npos) << refused.err;
    EXPECT_EQ(count("copy"), 0);
  }
  auto show = run({"checkpoint", b, "show"});
  EXPECT_EQ(show.exitCode, 78) << show.out << show.err;
  EXPECT_NE(show.out.find("NOT this pipeline"), std::string::npos) << show.out;
  // The first pipeline's checkpoint is untouched: it resumes and reads nothing again.
  auto again = once(a);
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_EQ(count("raw"), 40);
  // Named apart, the second is a pipeline of its own and stores everything.
  std::string own =
      write("own.yaml", "copy", "        copy: {stream: events, key: [id], columns: {id: id}}\n");
  EXPECT_EQ(once(own).exitCode, 0);
  EXPECT_EQ(count("copy"), 40);
}

TEST_P(Identity, AdoptTakesTheCheckpointOverOnPurposeAndEditsThatKeepTheTablesNeedNothing) {
  std::string p = write("p.yaml", "load", kRaw);
  auto loaded = once(p);
  ASSERT_EQ(loaded.exitCode, 0) << loaded.err;
  // A column's mapping and the batches edited: the same tables, resumed without a word.
  write("p.yaml", "load",
        "        raw: {stream: events, key: [id], columns: {id: {path: id, required: true}}}\n",
        "    batch: {max_records: 7}\n");
  auto edited = once(p);
  EXPECT_EQ(edited.exitCode, 0) << edited.err;
  EXPECT_NE(edited.err.find("1 already read (skipped)"), std::string::npos) << edited.err;
  // A table added: records read before will not reach it, so the operator says so.
  std::string types = "        types: {stream: events, key: [id], columns: {id: id, type: type}}\n";
  write("p.yaml", "load", std::string(kRaw) + types);
  auto added = once(p);
  EXPECT_EQ(added.exitCode, 78) << added.err;
  EXPECT_NE(added.err.find("this one is file -> sql (tables: [\"raw\",\"types\"])"),
            std::string::npos)
      << added.err;
  auto adopt = run({"checkpoint", p, "adopt"});
  ASSERT_EQ(adopt.exitCode, 0) << adopt.out << adopt.err;
  EXPECT_NE(adopt.out.find("load: checkpoint"), std::string::npos) << adopt.out;
  EXPECT_NE(adopt.out.find("taken over"), std::string::npos) << adopt.out;
  // From there on: the old file is not read again, a new one reaches both tables.
  etltest::writeEvents(templates_, 15, 5000, dir_ / "in/b.jsonl");
  auto resumed = once(p);
  EXPECT_EQ(resumed.exitCode, 0) << resumed.err;
  EXPECT_EQ(count("raw"), 55);
  EXPECT_EQ(count("types"), 15);
  auto show = run({"checkpoint", p});
  EXPECT_EQ(show.exitCode, 0) << show.out << show.err;
  EXPECT_NE(show.out.find("written by: file -> sql (tables: [\"raw\",\"types\"])"),
            std::string::npos)
      << show.out;
  auto twice = run({"checkpoint", p, "adopt"});
  EXPECT_EQ(twice.exitCode, 0);
  EXPECT_NE(twice.out.find("already this pipeline's"), std::string::npos) << twice.out;
}

// Written by an etlrun before identities (the source's checkpoint alone): taken as this
// pipeline's, and the next commit records who wrote it.
TEST_P(Identity, ACheckpointWithoutAnIdentityIsTakenAsThisPipelinesAndStampedAtTheNextCommit) {
  std::string p = write("p.yaml", "load", kRaw);
  auto loaded = once(p);
  ASSERT_EQ(loaded.exitCode, 0) << loaded.err;
  std::string stored = query("SELECT checkpoint FROM etl_checkpoints").at(0);
  std::string marker = ",\"etl_written_by\":";
  ASSERT_EQ(stored.rfind("{\"position\":", 0), 0u) << stored;
  std::string position = stored.substr(12, stored.rfind(marker) - 12);
  query("UPDATE etl_checkpoints SET checkpoint = '" + position + "'");
  etltest::writeEvents(templates_, 5, 9000, dir_ / "in/b.jsonl");
  auto resumed = once(p);
  EXPECT_EQ(resumed.exitCode, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("does not say which pipeline wrote it"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(count("raw"), 45) << "the old file was read again, or the new one not";
  std::string now = query("SELECT checkpoint FROM etl_checkpoints").at(0);
  EXPECT_NE(now.find(marker + "{\"sink\":{\"plugin\":\"sql\",\"tables\":[\"raw\"]}"),
            std::string::npos)
      << now;
}

// Review: the sql sink's identity is the names under `tables:`, which are labels when an entry
// says `table:`. Pointing a label at another table is other work (what was read before never
// reaches it) and must be refused; renaming a label of the same table is not.
TEST_P(Identity, ALabelPointedAtAnotherTableIsRefused) {
  std::string p =
      write("p.yaml", "load",
            "        ev: {table: events, stream: events, key: [id], columns: {id: id}}\n");
  ASSERT_EQ(once(p).exitCode, 0);
  ASSERT_EQ(count("events"), 40);
  write("p.yaml", "load",
        "        ev: {table: other_events, stream: events, key: [id], columns: {id: id}}\n");
  auto other = once(p);
  EXPECT_EQ(other.exitCode, 78) << "another table, the same label: not refused; the 40 records "
                                   "already read are skipped\n"
                                << other.err;
  EXPECT_EQ(count("other_events"), 0);
}

TEST_P(Identity, ARenamedLabelOfTheSameTableIsNotRefused) {
  std::string p =
      write("p.yaml", "load",
            "        ev: {table: events, stream: events, key: [id], columns: {id: id}}\n");
  ASSERT_EQ(once(p).exitCode, 0);
  write("p.yaml", "load",
        "        renamed: {table: events, stream: events, key: [id], columns: {id: id}}\n");
  auto renamed = once(p);
  EXPECT_EQ(renamed.exitCode, 0) << "the same table under another label was refused\n"
                                 << renamed.err;
}

INSTANTIATE_TEST_SUITE_P(Stores, Identity,
                         testing::Values(etltest::Backend::Postgres, etltest::Backend::Sqlite,
                                         etltest::Backend::Mariadb),
                         [](const auto& info) {
                           return info.param == etltest::Backend::Sqlite
                                      ? std::string("SQLite")
                                      : etltest::backendName(info.param);
                         });

// The fake GitHub and a pipeline `ingest` polling one of its feeds once into stdout (a sink that
// keeps no checkpoint: the core's state file does).
struct GitHubFeed {
  GitHubFeed() {
    fake.loadFixtures(etltest::dataDir() + "/events/api_events_2026-01-12.json");
    fake.start();
  }
  etltest::ProcessResult poll(const std::string& endpoint) {
    etltest::writeFile(dir / "p.yaml",
                       "pipelines:\n  ingest:\n    source: {plugin: github_events, "
                       "base_url: \"" +
                           fake.baseUrl() + "\", endpoint: \"" + endpoint +
                           "\"}\n    sink: {plugin: jsonl, path: \"-\"}\n");
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  }
  etltest::TempDir dir;
  fakegh::FakeGitHub fake{etl::systemClock()};
};

// A sink that keeps no checkpoint (stdout): the state file carries the identity. Another feed of
// GitHub under the same pipeline name would start from this feed's ETag and skip its events.
TEST(IdentityElsewhere, TheStateFileRefusesAnotherFeedsCheckpoint) {
  GitHubFeed feed;
  auto pipeline = [&](const std::string& endpoint) { return feed.poll(endpoint); };
  auto& fake = feed.fake;
  auto& dir = feed.dir;
  auto first = pipeline("/events");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  ASSERT_FALSE(first.out.empty());
  std::size_t requests = fake.requests().size();
  auto other = pipeline("/orgs/acme/events");
  EXPECT_EQ(other.exitCode, 78) << other.err;
  EXPECT_NE(other.err.find(kRefused), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("endpoint: \"/events\""), std::string::npos) << other.err;
  EXPECT_NE(other.err.find(dir / "state"), std::string::npos) << "where it lives" << other.err;
  EXPECT_EQ(fake.requests().size(), requests) << "the other feed was polled";
  EXPECT_TRUE(other.out.empty());
}

// Review: the refusal names the command that takes the checkpoint over. Run as given, with the
// --state-dir the run had (as the packaged systemd unit always passes), it must take it over.
TEST(IdentityElsewhere, TheCommandTheRefusalNamesTakesTheCheckpointOver) {
  GitHubFeed feed;
  auto pipeline = [&](const std::string& endpoint) { return feed.poll(endpoint); };
  ASSERT_EQ(pipeline("/events").exitCode, 0);
  auto refused = pipeline("/orgs/acme/events");
  ASSERT_EQ(refused.exitCode, 78) << refused.err;
  std::size_t from = refused.err.find("`etlrun checkpoint ");
  ASSERT_NE(from, std::string::npos) << refused.err;
  std::size_t to = refused.err.find('`', from + 1);
  std::istringstream words(refused.err.substr(from + 8, to - from - 8));  // after "`etlrun "
  std::vector<std::string> args;
  for (std::string w; words >> w;) args.push_back(w);
  auto adopt = etltest::runEtlrun(args);
  EXPECT_EQ(adopt.exitCode, 0) << adopt.out << adopt.err;
  EXPECT_NE(adopt.out.find("taken over"), std::string::npos)
      << "the command the refusal names did not take the checkpoint over: " << adopt.out;
  EXPECT_EQ(pipeline("/orgs/acme/events").exitCode, 0);
}

// The Kafka sink's checkpoint topic, keyed by the transactional id (etlrun.<pipeline>): a pipeline
// of the same name producing to another topic would resume from this one's position.
TEST(IdentityElsewhere, KafkasCheckpointTopicRefusesAnotherTopicsCheckpoint) {
  etltest::TempDir dir;
  etltest::KafkaMock kafka(1);
  kafka.createTopic("first", 1, 1);
  kafka.createTopic("second", 1, 1);
  etltest::writeEvents(etltest::templateEvents(etltest::dataDir()), 30, 1000, dir / "in.jsonl");
  auto pipeline = [&](const std::string& topic) {
    etltest::writeFile(dir / "p.yaml",
                       "pipelines:\n  ship:\n    source: {plugin: file, path: \"" +
                           (dir / "in.jsonl") + "\"}\n    sink: {plugin: kafka, brokers: \"" +
                           kafka.bootstraps() + "\", topic: " + topic + ", exactly_once: true}\n");
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / "p.yaml"});
  };
  auto first = pipeline("first");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  auto other = pipeline("second");
  EXPECT_EQ(other.exitCode, 78) << other.err;
  EXPECT_NE(other.err.find("file -> kafka (topic: \"first\")"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("topic etlrun-checkpoints"), std::string::npos) << other.err;
}

// A consumer group's parts (etl_checkpoint_parts) carry the identity as one more part: another
// pipeline file of the same name, consuming the same topic into other tables, is refused.
TEST(IdentityElsewhere, AConsumerGroupsPartsRefuseAPipelineWritingOtherTables) {
  etltest::TempDir dir;
  etltest::TestDatabase db;
  etltest::KafkaMock kafka(1);
  kafka.createTopic("events", 2, 1);
  std::vector<etltest::RawMessage> messages;
  for (int i = 0; i < 20; ++i) {
    messages.push_back({std::to_string(i), "{\"id\":" + std::to_string(i) + "}"});
  }
  etltest::produce(kafka.bootstraps(), "events", messages);
  auto pipeline = [&](const std::string& file, const std::string& table) {
    etltest::writeFile(dir / file,
                       "pipelines:\n  consume:\n    source: {plugin: kafka_consumer, brokers: \"" +
                           kafka.bootstraps() +
                           "\", topics: [events], group: loaders}\n    sink:\n      plugin: sql\n"
                           "      connection: \"" +
                           db.uri() + "\"\n      create: auto\n      tables:\n        " + table +
                           ": {stream: events, key: [id], columns: {id: id}}\n");
    return etltest::runEtlrun({"--once", "--state-dir=" + (dir / "state"), dir / file});
  };
  auto first = pipeline("a.yaml", "kept");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  ASSERT_EQ(db.count("SELECT count(*) FROM kept"), 20);
  auto other = pipeline("b.yaml", "other");
  EXPECT_EQ(other.exitCode, 78) << other.err;
  EXPECT_NE(other.err.find("kafka_consumer -> sql (tables: [\"kept\"])"), std::string::npos)
      << other.err;
  EXPECT_EQ(db.count("SELECT count(*) FROM pg_tables WHERE tablename = 'other'") == 0
                ? 0
                : db.count("SELECT count(*) FROM other"),
            0);
}

}  // namespace
