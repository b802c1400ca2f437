#include "finished_files.h"

#include <Poco/Glob.h>
#include <Poco/JSON/Array.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "file_names.h"
#include "natural_order.h"

namespace etl_file {

namespace {

uint64_t nameHash(const std::string& name) {
  return fnv1a(name);
}
uint64_t statHash(const std::string& name, const Seen& seen) {
  return fnv1a(name + '\0' + std::to_string(seen.size) + '\0' + std::to_string(seen.mtimeNs));
}

int64_t number(const Poco::Dynamic::Var& value, const std::string& what) {
  if (!value.isInteger()) throw std::runtime_error(what + " is not an integer");
  int64_t n = value.convert<int64_t>();
  if (n < 0) throw std::runtime_error(what + " is negative (" + std::to_string(n) + ")");
  return n;
}

}  // namespace

std::optional<Seen> statFile(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return Seen{static_cast<int64_t>(info.st_size),
              static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec,
              {}};
}

void FinishedFiles::load(const Poco::JSON::Object& state) {
  auto done = state.getObject("done");
  if (!done) throw std::runtime_error("it has no 'done' object (not a file checkpoint)");
  for (const auto& name : done->getNames()) {
    auto entry = done->getArray(name);
    if (!entry || (entry->size() != 2 && entry->size() != 4)) {
      throw std::runtime_error("done['" + name + "'] is not [size, mtime(, length, hash)]");
    }
    Seen seen{number(entry->get(0), "the size of " + name),
              number(entry->get(1), "the mtime of " + name),
              {}};
    if (entry->size() == 4) {
      seen.fingerprint = {static_cast<uint32_t>(number(entry->get(2), "the length of " + name)),
                          hashFromText(entry->getElement<std::string>(3))};
    }
    std::string file = decodeName(name);
    recent_[file] = seen;
    order_.push_back(file);
  }
  // Their order of finishing is not kept: natural order is the order a backfill reads in.
  std::sort(order_.begin(), order_.end(), naturalLess);
  if (auto runs = state.getArray("runs")) {
    for (std::size_t i = 0; i < runs->size(); ++i) {
      auto run = runs->getArray(static_cast<unsigned>(i));
      if (!run || run->size() != 6) {
        throw std::runtime_error("runs[" + std::to_string(i) +
                                 "] is not [glob, first, last, count, names, stats]");
      }
      runs_.push_back({decodeName(run->getElement<std::string>(0)),
                       decodeName(run->getElement<std::string>(1)),
                       decodeName(run->getElement<std::string>(2)),
                       static_cast<uint64_t>(number(run->get(3), "a run's count")),
                       hashFromText(run->getElement<std::string>(4)),
                       hashFromText(run->getElement<std::string>(5))});
    }
  }
}

void FinishedFiles::storeInto(Poco::JSON::Object& state) const {
  Poco::JSON::Object done;
  for (const auto& [file, seen] : recent_) {
    Poco::JSON::Array entry;
    entry.add(seen.size);
    entry.add(seen.mtimeNs);
    if (seen.fingerprint.length > 0) {
      entry.add(seen.fingerprint.length);
      entry.add(hashText(seen.fingerprint.hash));
    }
    done.set(encodeName(file), entry);
  }
  state.set("done", done);
  if (runs_.empty()) return;
  Poco::JSON::Array runs;
  for (const auto& run : runs_) {
    Poco::JSON::Array entry;
    entry.add(encodeName(run.glob));
    entry.add(encodeName(run.first));
    entry.add(encodeName(run.last));
    entry.add(run.count);
    entry.add(hashText(run.names));
    entry.add(hashText(run.stats));
    runs.add(entry);
  }
  state.set("runs", runs);
}

std::set<std::string> FinishedFiles::readBefore(const std::string& glob,
                                                const std::vector<std::string>& listing,
                                                Poco::Logger& logger) {
  glob_ = glob;
  listing_ = listing;
  std::set<std::string> read;
  // Files one by one: changed since (appended, touched) or replaced by another file.
  for (const auto& file : listing) {
    auto known = recent_.find(file);
    if (known == recent_.end()) continue;
    auto stat = statFile(file);
    if (!stat) continue;
    const Seen& now = *stat;
    const Fingerprint& before = known->second.fingerprint;
    Fingerprint first;
    if (before.length > 0 && (!fingerprintOf(file, before.length, first) || !(first == before))) {
      logger.warning(file + " was replaced by another file since it was read (other first " +
                     "bytes): read as a new file");
      recent_.erase(known);
      order_.erase(std::remove(order_.begin(), order_.end(), file), order_.end());
      continue;
    }
    read.insert(file);
    if (now.size != known->second.size || now.mtimeNs != known->second.mtimeNs) {
      logger.warning(file + " changed since it was read (size " +
                     std::to_string(known->second.size) + " -> " + std::to_string(now.size) +
                     " bytes, or a new modification time); it is not read again. To read it "
                     "again, give it a new name (or follow it: follow: true)");
    }
  }
  // Runs: the files their glob matches in their range now, against what they held.
  std::map<std::string, std::vector<std::string>> byGlob{{glob, listing}};  // matched already
  for (auto& run : runs_) {
    std::vector<std::string> inRange;
    if (run.glob.empty()) {
      if (statFile(run.first)) inRange.push_back(run.first);
    } else {
      auto cached = byGlob.find(run.glob);
      if (cached == byGlob.end()) {
        std::set<std::string> found;
        Poco::Glob::glob(run.glob, found);
        std::vector<std::string> sorted(found.begin(), found.end());
        std::sort(sorted.begin(), sorted.end(), naturalLess);
        cached = byGlob.emplace(run.glob, std::move(sorted)).first;
      }
      const auto& all = cached->second;
      auto from = std::lower_bound(all.begin(), all.end(), run.first, naturalLess);
      auto to = std::upper_bound(all.begin(), all.end(), run.last, naturalLess);
      // Files kept one by one are not the run's, even inside its range (read later).
      std::copy_if(from, to, std::back_inserter(inRange),
                   [&](const std::string& file) { return !recent_.count(file); });
    }
    uint64_t names = 0, stats = 0;
    for (const auto& file : inRange) {
      names ^= nameHash(file);
      stats ^= statHash(file, statFile(file).value_or(Seen{}));
    }
    std::string added;
    if (inRange.size() == run.count + 1) {  // one file among them that was not read: which?
      uint64_t extra = names ^ run.names;
      for (const auto& file : inRange) {
        if (nameHash(file) == extra) added = file;
      }
    }
    if (!added.empty()) {
      logger.warning(added + " appeared among files read earlier (" + run.first + " .. " +
                     run.last + "): read now");
    } else if (inRange.size() > run.count || (inRange.size() == run.count && names != run.names)) {
      logger.warning("files appeared among those read earlier (" + run.first + " .. " + run.last +
                     ", " + std::to_string(run.count) + " read, " + std::to_string(inRange.size()) +
                     " there now): they cannot be told apart from the files read and are taken "
                     "as read. To read such a file, give it a name outside that range");
    } else if (inRange.size() == run.count && stats != run.stats) {
      logger.warning("a file among those read earlier (" + run.first + " .. " + run.last +
                     ") changed since (size or modification time); it is not read again");
    }
    for (const auto& file : inRange) {
      if (file != added) read.insert(file);
    }
  }
  return read;
}

void FinishedFiles::add(const std::string& name, const Seen& seen) {
  if (recent_.count(name))
    order_.erase(std::remove(order_.begin(), order_.end(), name), order_.end());
  recent_[name] = seen;
  order_.push_back(name);
  while (order_.size() > kRecent) {
    std::string oldest = order_.front();
    order_.pop_front();
    Seen kept = recent_[oldest];
    recent_.erase(oldest);
    retire(oldest, kept);
  }
}

void FinishedFiles::retire(const std::string& name, const Seen& seen) {
  auto join = [&](Run& run) {
    if (naturalLess(run.last, name)) run.last = name;
    ++run.count;
    run.names ^= nameHash(name);
    run.stats ^= statHash(name, seen);
  };
  auto at = std::lower_bound(listing_.begin(), listing_.end(), name, naturalLess);
  bool listed = at != listing_.end() && *at == name;
  for (auto& run : runs_) {
    // Inside a run's range (a file added among them, read later): it joins it, so that a range
    // always holds every file of its glob that was read in it.
    if (listed && run.glob == glob_ && naturalLess(run.first, name) &&
        naturalLess(name, run.last)) {
      join(run);
      return;
    }
  }
  // The file just before it among those this run's glob matched: a run ending there goes on.
  if (listed && at != listing_.begin()) {
    const std::string& before = *(at - 1);
    for (auto& run : runs_) {
      if (run.glob == glob_ && run.last == before) {
        join(run);
        return;
      }
    }
  }
  runs_.push_back(
      {listed ? glob_ : std::string(), name, name, 1, nameHash(name), statHash(name, seen)});
}

}  // namespace etl_file
