// The files a backfill has finished, kept small enough to commit with every batch whatever their
// number (a ten-year GH Archive backfill is 87,600 hour files): the last kRecent files one by
// one (size, modification time, first bytes), and the older ones as runs of files that were
// consecutive in natural order under one glob, each a range with a count and two hashes (of the
// names, and of names with sizes and times). At the next start a run is matched against the
// files that match its glob in its range now: the same names, it holds; a file added among them
// is found by the hash and read; a file gone is simply gone.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "followed_files.h"

namespace etl_file {

// What a finished file looked like, to notice when it changes afterwards.
struct Seen {
  int64_t size = -1;
  int64_t mtimeNs = -1;
  Fingerprint fingerprint;  // length 0: not known (an older checkpoint)
};

// The size and modification time of `path` now (no fingerprint); nullopt when it is not there.
std::optional<Seen> statFile(const std::string& path);

class FinishedFiles {
 public:
  static constexpr std::size_t kRecent = 64;

  // From a checkpoint: "done" (files one by one: [size, mtime] or [size, mtime, length, hash])
  // and "runs". Throws std::runtime_error saying what is wrong.
  void load(const Poco::JSON::Object& state);
  void storeInto(Poco::JSON::Object& state) const;

  // Which of `listing` (the files `glob` matches now, in natural order) were read before. Logs
  // each file changed since it was read (not read again) and each replaced by another file or
  // added among files read (read now). Remembers the listing, to extend runs as files finish.
  std::set<std::string> readBefore(const std::string& glob, const std::vector<std::string>& listing,
                                   Poco::Logger& logger);
  // A file finished just now.
  void add(const std::string& name, const Seen& seen);
  bool empty() const { return recent_.empty() && runs_.empty(); }

 private:
  struct Run {
    std::string glob;  // "" for a lone file known by name (from an older checkpoint)
    std::string first, last;
    uint64_t count = 0, names = 0, stats = 0;
  };
  void retire(const std::string& name, const Seen& seen);  // from recent_ into a run

  std::vector<Run> runs_;
  std::map<std::string, Seen> recent_;
  std::deque<std::string> order_;  // recent_ in the order they finished
  std::string glob_;               // this run's glob and what it matched
  std::vector<std::string> listing_;
};

}  // namespace etl_file
