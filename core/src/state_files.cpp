#include "state_files.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace etl {
namespace {

void writeAll(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void writeFileAtomically(const std::string& path, const std::string& content) {
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + temp + ": " + std::strerror(errno));
  try {
    writeAll(fd, content, temp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + temp + ": " + std::strerror(errno));
  }
  std::string dir = Poco::Path(path).parent().toString();
  int dirFd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
}

std::string readFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fallback;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

CheckpointFile::CheckpointFile(const std::string& stateDir, const std::string& pipeline)
    : path_(stateDir + "/" + pipeline + ".checkpoint") {
  Poco::File(stateDir).createDirectories();
}

std::string CheckpointFile::load() const {
  return readFileOr(path_, "");
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
    appendJsonString(lines, letter.reason);
    lines += ",\"stream\":";
    appendJsonString(lines, letter.record.stream());
    lines += ",\"record\":";
    appendJsonString(lines, letter.record.raw());
    lines += "}\n";
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  try {
    writeAll(fd, lines, path_);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::fsync(fd);
  ::close(fd);
}

}  // namespace etl
