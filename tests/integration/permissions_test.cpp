// What etlrun says when it may not write where it must: a state directory that cannot be written
// stops it at start (exit 78), before anything is read or written to stdout, naming the directory
// and "permission denied"; an SQLite file it may not write is named with "permission denied", not
// only SQLite's "attempt to write a readonly database". Tests run as root, where permission bits
// do not stop anything: those cases run etlrun as nobody (setpriv), and are skipped without it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "test_env.h"

namespace {

const std::string kHour = "/gharchive/gharchive_2021-07-21_hour06_200events.jsonl";
const std::string kSetpriv = "/usr/bin/setpriv";
constexpr uid_t kNobody = 65534;

// etlrun as the user nobody when the tests run as root (as themselves otherwise).
etltest::ProcessResult runUnprivileged(const std::vector<std::string>& args) {
  std::vector<std::string> all{"--plugin-path=" + etltest::pluginDir()};
  all.insert(all.end(), args.begin(), args.end());
  if (::geteuid() != 0) return etltest::runProcess(etltest::etlrunBinary(), all);
  std::vector<std::string> dropped{"--reuid=65534", "--regid=65534", "--clear-groups",
                                   etltest::etlrunBinary()};
  dropped.insert(dropped.end(), all.begin(), all.end());
  return etltest::runProcess(kSetpriv, dropped);
}

bool canDropPrivileges() {
  return ::geteuid() != 0 || ::access(kSetpriv.c_str(), X_OK) == 0;
}

std::string toStdout(const std::string& input) {
  return "pipelines:\n  p:\n    source: {plugin: file, path: \"" + input +
         "\"}\n    sink: {plugin: jsonl}\n";
}

TEST(Permissions, AStateDirectoryUnderAFileStopsEtlrunBeforeItReadsAnything) {
  etltest::TempDir dir;
  etltest::writeFile(dir / "file", "a file, not a folder\n");
  etltest::writeFile(dir / "p.yaml", toStdout(etltest::dataDir() + kHour));
  std::string state = dir / "file/state";
  auto result = etltest::runEtlrun({"--state-dir=" + state, dir / "p.yaml"});
  EXPECT_EQ(result.exitCode, 78) << result.err;
  EXPECT_NE(result.err.find("cannot start: the state directory " + state +
                            " (state_dir, or --state-dir) cannot be created: " + (dir / "file") +
                            " is not a directory"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.out, "") << "a batch went out before the state directory was checked";
}

TEST(Permissions, AStateDirectoryThatCannotBeWrittenSaysPermissionDenied) {
  if (!canDropPrivileges()) GTEST_SKIP() << "needs " << kSetpriv << " to run etlrun as nobody";
  etltest::TempDir dir;
  ::chmod(dir.path().c_str(), 0755);  // nobody reads the pipeline file...
  etltest::writeFile(dir / "p.yaml", toStdout(etltest::dataDir() + kHour));
  std::string state = dir / "state";
  ::mkdir(state.c_str(), 0755);  // ...but may not write here (root's; or read-only when not root)
  if (::geteuid() != 0) ::chmod(state.c_str(), 0555);
  auto result = runUnprivileged({"--state-dir=" + state, dir / "p.yaml"});
  EXPECT_EQ(result.exitCode, 78) << result.err;
  EXPECT_NE(result.err.find("cannot start: the state directory " + state +
                            " (state_dir, or --state-dir) cannot be written: permission denied "
                            "(etlrun runs as user '"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.out, "") << "a batch went out before the state directory was checked";
  ::chmod(state.c_str(), 0755);
}

TEST(Permissions, AnSqliteFileThatCannotBeWrittenIsNamedWithPermissionDenied) {
  if (::geteuid() != 0 || ::access(kSetpriv.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "needs root and " << kSetpriv << " (a file of another user)";
  }
  etltest::TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::string folder = dir / "db", db = dir / "db/store.sqlite";
  ::mkdir(folder.c_str(), 0777);
  ::chmod(folder.c_str(), 0777);  // nobody may create files here (the lock beside the database)
  // Input files in a glob: the second run has one more to store than the first.
  std::string in = dir / "in";
  ::mkdir(in.c_str(), 0755);
  etltest::writeFile(in + "/a.jsonl", "{\"id\":\"1\"}\n");
  etltest::writeFile(
      dir / "p.yaml",
      "connections:\n  db: \"sqlite:" + db +
          "\"\npipelines:\n  p:\n    source: {plugin: file, path: \"" + in +
          "/*.jsonl\", stream: events}\n    sink:\n      plugin: sql\n"
          "      connection: db\n      create: auto\n      tables: {events: "
          "{stream: events, key: [id], columns: {id: {path: id, required: true}}}}\n");
  // Made by root: the database is root's, 0644.
  auto first =
      etltest::runEtlrun({"--once", "--state-dir=" + (dir / "root-state"), dir / "p.yaml"});
  ASSERT_EQ(first.exitCode, 0) << first.err;
  for (const char* leftover : {"-wal", "-shm", ".etlrun-lock"})
    std::remove((db + leftover).c_str());
  etltest::writeFile(in + "/b.jsonl", etltest::readFile(etltest::dataDir() + kHour));
  std::string state = dir / "state";
  ::mkdir(state.c_str(), 0755);
  ASSERT_EQ(::chown(state.c_str(), kNobody, kNobody), 0);
  auto result = runUnprivileged({"--once", "--state-dir=" + state, dir / "p.yaml"});
  // Found when the database is opened, before the source reads: not at the first write.
  EXPECT_EQ(result.exitCode, 70) << result.err;
  EXPECT_NE(result.err.find("SQLite " + db + ": opened read-only: permission denied: " + db +
                            " cannot be written by user 'nobody'"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("reading file"), std::string::npos) << result.err;
}

}  // namespace
