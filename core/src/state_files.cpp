#include "state_files.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "etl/errors.h"
#include "etl/files.h"
#include "etl/text.h"

namespace etl {

CheckpointFile::CheckpointFile(const std::string& stateDir, const std::string& pipeline)
    : path_(stateDir + "/" + pipeline + ".checkpoint") {
  Poco::File(stateDir).createDirectories();
}

std::string CheckpointFile::load() const {
  auto content = readFileIfExists(path_);
  if (!content) return {};
  // Written atomically, a checkpoint file is never empty: an empty one was truncated by hand or
  // by a broken disk, and reading it as "start from scratch" would silently read everything again.
  if (content->find_first_not_of(" \t\r\n") == std::string::npos) {
    throw CheckpointError("the file is empty");
  }
  return *content;
}

OwnerLock::OwnerLock(const std::string& stateDir, const std::string& pipeline)
    : path_(stateDir + "/" + pipeline + ".lock") {
  Poco::File(stateDir).createDirectories();
}

OwnerLock::~OwnerLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string OwnerLock::take() {
  if (held_) return {};
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open the lock file " + path_ + ": " + std::strerror(errno));
    }
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      throw std::runtime_error("cannot lock " + path_ + ": " + std::strerror(errno));
    }
    std::string holder = readFileIfExists(path_).value_or("");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return holder.empty() ? "another process holds " + path_ : holder + " (" + path_ + ")";
  }
  held_ = true;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string who = "pid " + std::to_string(::getpid()) + " on " + host + ", since " +
                    isoTime(systemClock().now()) + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::lseek(fd_, 0, SEEK_SET) == 0) writeAll(fd_, who, path_);
  return {};
}

void CheckpointFile::save(const std::string& checkpoint) {
  writeFileAtomically(path_, checkpoint);
}

DeadLetterFile::DeadLetterFile(const std::string& stateDir, const std::string& pipeline)
    : path_(stateDir + "/" + pipeline + ".dead_letters.jsonl") {
  Poco::File(stateDir).createDirectories();
}

void DeadLetterFile::append(const std::vector<DeadLetter>& letters) {
  if (letters.empty()) return;
  std::string lines;
  for (const auto& letter : letters) {
    lines += "{\"plugin\":";
    appendJsonString(lines, letter.plugin);
    lines += ",\"reason\":";
    appendJsonString(lines, storableText(letter.reason));
    lines += ",\"stream\":";
    appendJsonString(lines, letter.record.stream());
    lines += ",\"record\":";
    appendJsonString(lines, storableText(letter.record.raw()));
    if (!isStorableText(letter.record.raw())) {
      // JSON strings cannot carry invalid UTF-8 or NUL: the exact bytes go beside, in base64.
      lines += ",\"record_base64\":\"" + base64(letter.record.raw()) + "\"";
    }
    lines += "}\n";
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  try {
    writeAll(fd, lines, path_);
    ::fsync(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace etl
