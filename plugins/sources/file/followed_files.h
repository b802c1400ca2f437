// The files a following file source (`follow: true`) knows, by what they are rather than by name:
// device and inode, and a fingerprint of their first bytes (as Vector's file source and Fluent
// Bit's tail do). Each scan matches the glob again and tells what happened to every file, and
// logs it:
//   - a new file is read from its start;
//   - a file renamed (rotation by rename) is the same file: read on from where it was, under its
//     new name or through the reader still open on it when the new name is outside the glob;
//   - a file truncated in place (rotation by copy + truncate) is read again from its start, and a
//     new file holding the bytes it had (the copy) is read from where the original was;
//   - a file replaced by another of the same name (another inode, or other first bytes: also
//     found across a restart) is a new file; the old one is read to its end through its reader;
//   - a file no longer matched is let go once it has been quiet for `rotate_wait`.
// Reading, with its offsets, stays with the source: this only says which files there are.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fingerprint.h"

namespace etl_file {

struct FollowedFile {
  std::string name;  // where it was last found
  uint64_t device = 0, inode = 0;
  Fingerprint fingerprint;
  uint64_t offset = 0;    // bytes handed on (complete lines or rows): where reading resumes
  bool gone = false;      // no longer at a matching name: read to its end, then let go
  bool finished = false;  // a .gz file read to its end (compressed files do not grow)
  uint64_t lastSize = 0;  // at the last scan: a file written since has its first bytes checked
  int64_t lastModified = 0;
  bool reopen = false;     // its content changed in place (truncated): read again from the start
  bool rewritten = false;  // its reader saw other first bytes: not read until a scan says more
  std::chrono::steady_clock::time_point quietSince{};  // last time it gave data (or was found)
  std::chrono::steady_clock::time_point holdUntil{};   // a copy of a live file: not read before
  std::string copyOf;  // with holdUntil: the file it copies (its lines are read from there)
  // The source's reading state (its reader, CSV rows), kept with the file it reads.
  std::shared_ptr<void> reading;
};

class FollowedFiles {
 public:
  FollowedFiles(std::string pattern, Poco::Logger& logger, std::chrono::milliseconds rotateWait);

  // The files of a checkpoint (their offsets); the next scan finds them again, or says why not.
  void restore(const Poco::JSON::Object& state);
  // Matches the glob and updates the files (see above); each event is logged.
  void scan();
  // Files to read from, in the glob's natural order: not held, not dropped.
  std::vector<FollowedFile*> readable();
  // A gone file whose reader found nothing more for rotate_wait: forgotten (its partial line, if
  // any, was handed on by the source).
  void forget(FollowedFile* file);
  // Whether a file gone from its name may be forgotten now.
  bool quietLongEnough(const FollowedFile& file) const;

  // {"follow":[{"name","device","inode","fingerprint":[length, hash],"offset"}...]}: the files
  // there are now, so it grows with them, not with every file ever read.
  Poco::JSON::Object::Ptr checkpoint() const;
  std::size_t size() const { return files_.size(); }

 private:
  std::string pattern_;
  Poco::Logger& logger_;
  std::chrono::milliseconds rotateWait_;
  std::vector<std::unique_ptr<FollowedFile>> files_;
  // Files truncated in place lately, as they were before: a copy of one is read from its offset.
  struct Truncated {
    std::string name;
    Fingerprint fingerprint;
    uint64_t offset;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Truncated> truncated_;
};

}  // namespace etl_file
