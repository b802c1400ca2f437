// The file source following files (`follow: true`) through the real etlrun, with real files
// changing under it: appended in pieces (half lines included), rotated by rename and by copy +
// truncate, replaced by another file of the same name (also while etlrun is killed), new files
// appearing. Every complete line must be stored exactly once. Writers split lines at random
// places: each test prints its seed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "etl/record.h"
#include "event_generator.h"
#include "test_env.h"

namespace {

using namespace std::chrono_literals;

class Follow : public testing::Test {
 protected:
  void SetUp() override {
    seed_ = std::random_device{}();
    random_.seed(seed_);
    std::filesystem::create_directories(dir_ / "logs");
    std::cerr << "seed " << seed_ << "\n";
  }

  // The pipeline: `glob` under logs/, followed, into out.jsonl (exactly once by its sidecar).
  std::string pipeline(const std::string& glob) {
    etltest::writeFile(
        dir_ / "p.yaml",
        "pipelines:\n  tail:\n    source: {plugin: file, path: \"" + (dir_ / "logs/") + glob +
            "\", follow: true, poll_interval: 100ms, "
            "rotate_wait: 1s}\n"
            "    sink: {plugin: jsonl, path: \"" +
            (dir_ / "out.jsonl") + "\"}\n    batch: {max_records: 50, max_latency: 50ms}\n");
    return dir_ / "p.yaml";
  }
  int start() {
    return etltest::startEtlrun({"--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"},
                                dir_ / "out.txt", dir_ / ("err" + std::to_string(++runs_)));
  }
  std::string log() const { return etltest::readFile(dir_ / ("err" + std::to_string(runs_))); }

  // Appends `text` to `file` in pieces split at random places, each piece a write(2).
  void append(const std::string& file, const std::string& text) {
    int fd = ::open((dir_ / ("logs/" + file)).c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    for (std::size_t at = 0; at < text.size();) {
      std::size_t n = std::min<std::size_t>(text.size() - at, 1 + random_() % 90);
      ASSERT_EQ(::write(fd, text.data() + at, n), static_cast<ssize_t>(n));
      at += n;
      if (random_() % 8 == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(random_() % 30));
    }
    ::close(fd);
  }
  static std::string lines(int from, int to) {  // {"n":from} .. {"n":to-1}, one a line
    std::string out;
    for (int n = from; n < to; ++n)
      out += "{\"n\":" + std::to_string(n) + ",\"pad\":\"xxxxxxxxxx\"}\n";
    return out;
  }
  // How many times each n was stored.
  std::map<int, int> stored() const {
    std::map<int, int> counts;
    if (!std::filesystem::exists(dir_ / "out.jsonl")) return counts;  // nothing written yet
    for (const auto& line : etltest::readLines(dir_ / "out.jsonl")) {
      counts[static_cast<int>(etl::Record("e", line).get<int64_t>("n"))]++;
    }
    return counts;
  }
  bool storedAll(int total) const { return stored().size() == static_cast<std::size_t>(total); }
  void expectEachOnce(int total) const {
    auto counts = stored();
    EXPECT_EQ(counts.size(), static_cast<std::size_t>(total)) << "seed " << seed_ << "\n" << log();
    for (const auto& [n, times] : counts) {
      EXPECT_EQ(times, 1) << "n " << n << " stored " << times << " times; seed " << seed_;
      if (times != 1) break;
    }
    EXPECT_TRUE(etltest::readFile(dir_ / "state/tail.dead_letters.jsonl").empty())
        << "a half line became a record: "
        << etltest::readFile(dir_ / "state/tail.dead_letters.jsonl");
  }
  void stop(int pid) {
    ::kill(pid, SIGTERM);
    EXPECT_EQ(etltest::waitFor(pid, 20), 0) << log();
  }

  etltest::TempDir dir_;
  unsigned seed_ = 0;
  std::mt19937 random_;
  int runs_ = 0;
};

// Lines written in pieces, a line's end often minutes (here: polls) after its start: a line is
// taken once its newline is there, never as two halves.
TEST_F(Follow, AFileAppendedInPiecesGivesEachLineOnceWhole) {
  pipeline("app.log");
  append("app.log", lines(0, 10));
  int pid = start();
  for (int chunk = 1; chunk < 20; ++chunk) append("app.log", lines(chunk * 100, chunk * 100 + 100));
  const int total = 10 + 19 * 100;
  bool all = etltest::waitUntil([&] { return storedAll(total); }, 30);
  stop(pid);
  EXPECT_TRUE(all) << log();
  expectEachOnce(total);
}

// Rotation by rename (app.log -> app.log.K, a new app.log) while lines are written, the writer
// still writing a little to the renamed file before it reopens; and new files appearing.
TEST_F(Follow, RotationByRenameAndNewFilesLoseNothingAndReadNothingTwice) {
  pipeline("app.log*");
  int pid = start();
  int n = 0;
  for (int rotation = 1; rotation <= 6; ++rotation) {
    append("app.log", lines(n, n + 150));
    n += 150;
    std::filesystem::rename(dir_ / "logs/app.log",
                            dir_ / ("logs/app.log." + std::to_string(rotation)));
    append("app.log." + std::to_string(rotation), lines(n, n + 5));  // the writer, before reopening
    n += 5;
    std::this_thread::sleep_for(std::chrono::milliseconds(random_() % 250));
  }
  append("app.log", lines(n, n + 40));
  n += 40;
  append("app.log.extra", lines(n, n + 30));  // a new file
  n += 30;
  bool all = etltest::waitUntil([&] { return storedAll(n); }, 30);
  stop(pid);
  EXPECT_TRUE(all) << log();
  expectEachOnce(n);
  EXPECT_NE(log().find("was renamed"), std::string::npos) << log();
  EXPECT_NE(log().find("new file " + (dir_ / "logs/app.log.extra")), std::string::npos) << log();
}

// Rotated names outside the glob: a renamed file is still read to its end (its reader is open on
// it) before it is let go.
TEST_F(Follow, AFileRotatedOutOfTheGlobIsReadToItsEnd) {
  pipeline("app.log");
  int pid = start();
  append("app.log", lines(0, 200));
  ASSERT_TRUE(etltest::waitUntil([&] { return storedAll(200); }, 20)) << log();
  std::filesystem::rename(dir_ / "logs/app.log", dir_ / "logs/app.log.1");
  append("app.log.1", lines(200, 230));  // written after the rename, before the writer reopens
  append("app.log", lines(230, 300));
  bool all = etltest::waitUntil([&] { return storedAll(300); }, 20);
  stop(pid);
  EXPECT_TRUE(all) << log();
  expectEachOnce(300);
}

// Copy + truncate rotation (logrotate's copytruncate; the writer pauses meanwhile, as otherwise
// lines written between the copy and the truncation are lost whoever reads): the copy holds the
// lines not read yet, the truncated file is read again from its start.
TEST_F(Follow, CopyTruncateRotationLosesNothingAndReadsNothingTwice) {
  pipeline("app.log*");
  int pid = start();
  int n = 0;
  for (int rotation = 1; rotation <= 4; ++rotation) {
    append("app.log", lines(n, n + 120));
    n += 120;
    std::this_thread::sleep_for(std::chrono::milliseconds(random_() % 200));
    std::filesystem::copy_file(dir_ / "logs/app.log",
                               dir_ / ("logs/app.log." + std::to_string(rotation)));
    std::filesystem::resize_file(dir_ / "logs/app.log", 0);
  }
  append("app.log", lines(n, n + 50));
  n += 50;
  bool all = etltest::waitUntil([&] { return storedAll(n); }, 30);
  std::this_thread::sleep_for(1500ms);  // held copies resolved: anything read twice shows now
  stop(pid);
  EXPECT_TRUE(all) << log();
  expectEachOnce(n);
  EXPECT_NE(log().find("was truncated"), std::string::npos) << log();
}

// A file replaced by another of the same name while etlrun was killed (-9), the new one longer
// than the old one's offset: it is read from its start, not resumed inside it.
TEST_F(Follow, AFileReplacedWhileKilledIsReadFromItsStart) {
  pipeline("app.log");
  append("app.log", lines(0, 300));
  int pid = start();
  ASSERT_TRUE(etltest::waitUntil([&] { return storedAll(300); }, 20)) << log();
  ::kill(pid, SIGKILL);
  etltest::waitFor(pid);
  // Another file under the same name, longer than what was read of the old one.
  etltest::writeFile(dir_ / "logs/app.log.new", lines(1000, 1600));
  std::filesystem::rename(dir_ / "logs/app.log.new", dir_ / "logs/app.log");
  auto rest = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"});
  ASSERT_EQ(rest.exitCode, 0) << rest.err;
  auto counts = stored();
  EXPECT_EQ(counts.size(), 900u) << rest.err;
  EXPECT_EQ(counts.count(1000), 1u) << "the new file's head was skipped\n" << rest.err;
  for (const auto& [n, times] : counts) ASSERT_EQ(times, 1) << n;
}

// kill -9 at random moments while lines are appended and rotated: each line once in the end.
TEST_F(Follow, KilledAtRandomMomentsWhileFollowingEachLineIsStoredOnce) {
  pipeline("app.log*");
  int n = 0;
  for (int round = 0; round < 5; ++round) {
    int pid = start();
    for (int piece = 0; piece < 4; ++piece) {
      append("app.log", lines(n, n + 60));
      n += 60;
    }
    if (round % 2 == 1) {
      std::filesystem::rename(dir_ / "logs/app.log",
                              dir_ / ("logs/app.log." + std::to_string(round)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random_() % 400));
    ::kill(pid, SIGKILL);
    etltest::waitFor(pid);
  }
  auto rest = etltest::runEtlrun({"--once", "--state-dir=" + (dir_ / "state"), dir_ / "p.yaml"});
  ASSERT_EQ(rest.exitCode, 0) << rest.err;
  expectEachOnce(n);
}

}  // namespace
