#include "followed_files.h"

#include <Poco/Glob.h>
#include <Poco/JSON/Array.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "file_names.h"
#include "natural_order.h"

namespace etl_file {

namespace {

using Clock = std::chrono::steady_clock;

struct Found {
  std::string path;
  uint64_t device, inode, size;
  int64_t modified;  // ns
  bool claimed = false;
};

bool samePrefix(const std::string& path, const Fingerprint& fingerprint) {
  Fingerprint now;
  return fingerprint.length > 0 && fingerprintOf(path, fingerprint.length, now) &&
         now == fingerprint;
}

Fingerprint firstBytes(const std::string& path, uint64_t size) {
  Fingerprint out;
  fingerprintOf(path, static_cast<uint32_t>(std::min<uint64_t>(size, kFingerprintBytes)), out);
  return out;
}

}  // namespace

FollowedFiles::FollowedFiles(std::string pattern, Poco::Logger& logger,
                             std::chrono::milliseconds rotateWait)
    : pattern_(std::move(pattern)), logger_(logger), rotateWait_(rotateWait) {}

void FollowedFiles::restore(const Poco::JSON::Object& state) {
  auto list = state.getArray("follow");
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto entry = list->getObject(static_cast<unsigned>(i));
    auto fingerprint = entry ? entry->getArray("fingerprint") : nullptr;
    if (!entry || !fingerprint || fingerprint->size() != 2) {
      throw std::runtime_error("follow[" + std::to_string(i) +
                               "] is not {name, device, inode, fingerprint, offset}");
    }
    auto file = std::make_unique<FollowedFile>();
    file->name = decodeName(entry->getValue<std::string>("name"));
    file->device = entry->getValue<uint64_t>("device");
    file->inode = entry->getValue<uint64_t>("inode");
    file->fingerprint = {fingerprint->getElement<uint32_t>(0),
                         hashFromText(fingerprint->getElement<std::string>(1))};
    file->offset = entry->getValue<uint64_t>("offset");
    file->finished = entry->optValue<bool>("finished", false);
    file->quietSince = Clock::now();
    files_.push_back(std::move(file));
  }
}

void FollowedFiles::scan() {
  auto now = Clock::now();
  std::set<std::string> matched;
  Poco::Glob::glob(pattern_, matched);
  std::vector<Found> found;
  for (const auto& path : matched) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    found.push_back(
        {path, static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino),
         static_cast<uint64_t>(info.st_size),
         static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec});
  }
  auto byInode = [&](const FollowedFile& f) -> Found* {
    for (auto& candidate : found) {
      if (candidate.claimed) continue;
      bool same = f.inode == 0 ? candidate.path == f.name  // known by name only (a backfill's)
                               : candidate.device == f.device && candidate.inode == f.inode;
      if (same) return &candidate;
    }
    return nullptr;
  };
  truncated_.erase(std::remove_if(truncated_.begin(), truncated_.end(),
                                  [&](const Truncated& t) { return now - t.at > rotateWait_ * 4; }),
                   truncated_.end());

  // The files known already: where they are now, and whether they are still themselves.
  for (auto& f : files_) {
    Found* at = byInode(*f);
    // An inode that no reader holds open may have been freed and given to another file.
    if (at && f->fingerprint.length > 0 && !f->reading && !samePrefix(at->path, f->fingerprint) &&
        at->size >= f->offset) {
      logger_.warning(f->name + " is another file now (replaced while it was not read): the one " +
                      "read to byte " + std::to_string(f->offset) + " is gone; " + at->path +
                      " is read from its start");
      at = nullptr;
    } else if (at && f->inode == 0) {  // a backfill's file, known by name until now
      f->device = at->device;
      f->inode = at->inode;
      f->fingerprint = firstBytes(at->path, at->size);
    }
    if (!at) {
      if (!f->gone) {
        logger_.information(f->name + " is no longer there (rotated away or deleted)" +
                            (f->reading ? ": what remains in it is read, then it is let go"
                                        : std::string(": let go")));
        f->gone = true;
        f->quietSince = now;
      }
      continue;
    }
    at->claimed = true;
    if (at->path != f->name) {
      logger_.information(f->name + " was renamed " + at->path + " (the same file: read on from " +
                          "byte " + std::to_string(f->offset) + ")");
      f->name = at->path;
    }
    if (f->gone) {
      f->gone = false;
      f->quietSince = now;
    }
    // Cut in place (copy + truncate rotation): shorter than what was read, or written since the
    // last scan with other first bytes (cut and written again to the same size or more).
    bool written = at->size != f->lastSize || at->modified != f->lastModified;
    bool cut = !isGzipName(f->name) &&
               (at->size < f->offset ||
                (written && f->fingerprint.length > 0 &&
                 (at->size < f->fingerprint.length || !samePrefix(at->path, f->fingerprint))));
    f->lastSize = at->size;
    f->lastModified = at->modified;
    cut = cut || f->rewritten;  // its reader saw it rewritten since the last scan
    f->rewritten = false;
    if (cut) {
      logger_.information(f->name + " was truncated (" + std::to_string(at->size) +
                          " bytes, read to byte " + std::to_string(f->offset) +
                          "): read again from its start");
      truncated_.push_back({f->name, f->fingerprint, f->offset, now});
      f->offset = 0;
      f->reopen = true;
      f->finished = false;
      f->fingerprint = firstBytes(at->path, at->size);
    } else if (f->fingerprint.length < kFingerprintBytes && at->size > f->fingerprint.length) {
      f->fingerprint = firstBytes(at->path, at->size);  // it grew: a longer, surer fingerprint
    }
  }

  // Files not known yet: a copy of a truncated one, a file moved, or a new file.
  for (auto& at : found) {
    if (at.claimed || at.size == 0) continue;  // an empty file is known once it has bytes
    auto copied = std::find_if(truncated_.begin(), truncated_.end(), [&](const Truncated& t) {
      return t.fingerprint.length > 0 && at.size >= t.offset && samePrefix(at.path, t.fingerprint);
    });
    auto file = std::make_unique<FollowedFile>();
    file->name = at.path;
    file->device = at.device;
    file->inode = at.inode;
    file->fingerprint = firstBytes(at.path, at.size);
    file->quietSince = now;
    file->lastSize = at.size;
    file->lastModified = at.modified;
    if (copied != truncated_.end()) {
      logger_.information(at.path + " holds what " + copied->name + " held before it was " +
                          "truncated: read from byte " + std::to_string(copied->offset));
      file->offset = copied->offset;
      truncated_.erase(copied);
      files_.push_back(std::move(file));
      continue;
    }
    auto same = std::find_if(files_.begin(), files_.end(), [&](const auto& f) {
      return f->fingerprint.length > 0 && f->fingerprint.length <= at.size &&
             samePrefix(at.path, f->fingerprint);
    });
    if (same != files_.end() && (*same)->gone && !(*same)->reading) {
      logger_.information((*same)->name + " is now " + at.path + " (the same first bytes, " +
                          "another inode: moved): read on from byte " +
                          std::to_string((*same)->offset));
      (*same)->name = at.path;
      (*same)->device = at.device;
      (*same)->inode = at.inode;
      (*same)->gone = false;
      continue;
    }
    if (same != files_.end()) {
      // Copy + truncate rotation copies first: if the original is cut soon, this copy holds the
      // lines it had not given yet. If not, it is a plain copy of lines read from the original.
      logger_.information(at.path + " has the same first bytes as " + (*same)->name +
                          ": held for rotate_wait in case that one is truncated next");
      file->offset = std::min(at.size, (*same)->offset);
      file->copyOf = (*same)->name;
      file->holdUntil = now + rotateWait_;
      files_.push_back(std::move(file));
      continue;
    }
    logger_.information("new file " + at.path);
    files_.push_back(std::move(file));
  }

  // Copies held: released when their original was truncated, or found to be plain copies.
  for (auto& f : files_) {
    if (f->holdUntil == Clock::time_point{}) continue;
    auto original = std::find_if(truncated_.begin(), truncated_.end(), [&](const Truncated& t) {
      return t.name == f->copyOf && samePrefix(f->name, t.fingerprint);
    });
    if (original != truncated_.end()) {
      logger_.information(f->name + " holds what " + f->copyOf + " held before it was " +
                          "truncated: read from byte " + std::to_string(original->offset));
      f->offset = original->offset;
      truncated_.erase(original);
      f->holdUntil = {};
      f->reopen = true;
    } else if (now >= f->holdUntil) {
      struct stat info {};
      uint64_t size =
          ::stat(f->name.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size) : f->offset;
      logger_.information(f->name + " is a copy of " + f->copyOf + ", whose lines were read " +
                          "there: only what is added to it is read");
      f->offset = size;
      f->holdUntil = {};
      f->reopen = true;
    }
  }
}

std::vector<FollowedFile*> FollowedFiles::readable() {
  std::vector<FollowedFile*> out;
  for (auto& f : files_) {
    if (f->holdUntil != Clock::time_point{}) continue;  // until a scan says what it is
    if (f->rewritten) continue;
    if (f->finished) continue;
    out.push_back(f.get());
  }
  std::sort(out.begin(), out.end(), [](const FollowedFile* a, const FollowedFile* b) {
    return naturalLess(a->name, b->name);
  });
  return out;
}

bool FollowedFiles::quietLongEnough(const FollowedFile& file) const {
  return file.gone && Clock::now() - file.quietSince >= rotateWait_;
}

void FollowedFiles::forget(FollowedFile* file) {
  logger_.information("let go of " + file->name + " (read to byte " + std::to_string(file->offset) +
                      ")");
  files_.erase(
      std::remove_if(files_.begin(), files_.end(), [&](const auto& f) { return f.get() == file; }),
      files_.end());
}

Poco::JSON::Object::Ptr FollowedFiles::checkpoint() const {
  Poco::JSON::Array list;
  for (const auto& f : files_) {
    if (f->gone && !f->reading) continue;  // nothing of it can be read again
    Poco::JSON::Object entry;
    entry.set("name", encodeName(f->name));
    entry.set("device", f->device);
    entry.set("inode", f->inode);
    Poco::JSON::Array fingerprint;
    fingerprint.add(f->fingerprint.length);
    fingerprint.add(hashText(f->fingerprint.hash));
    entry.set("fingerprint", fingerprint);
    entry.set("offset", f->offset);
    if (f->finished) entry.set("finished", true);
    list.add(entry);
  }
  Poco::JSON::Object::Ptr state = new Poco::JSON::Object;
  state->set("follow", list);
  return state;
}

}  // namespace etl_file
