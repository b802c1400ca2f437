#include "etl/files.h"

#include <Poco/Path.h>
#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "etl/errors.h"

namespace etl {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int error) {
  std::string message = what + " " + path + ": " + std::strerror(error);
  // A full disk or an I/O hiccup may pass; a missing directory or a permission does not.
  if (error == ENOSPC || error == EDQUOT || error == EIO || error == EAGAIN) {
    throw RetryableError(message);
  }
  throw std::runtime_error(message);
}

// Closes the descriptor whatever happens between open and close.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void writeAll(int fd, std::string_view data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path, errno);
    done += static_cast<std::size_t>(n);
  }
}

void writeFileAtomically(const std::string& path, std::string_view content, bool durable) {
  std::string temp = path + ".tmp";
  {
    Descriptor file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (file.fd < 0) fail("cannot create", temp, errno);
    writeAll(file.fd, content, temp);
    if (durable && ::fsync(file.fd) != 0) fail("cannot sync", temp, errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename", temp, errno);
  if (!durable) return;
  // The rename itself is durable only once the directory entry is on disk.
  std::string dir = Poco::Path(path).parent().toString();
  Descriptor folder{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (folder.fd >= 0 && ::fsync(folder.fd) != 0) fail("cannot sync the directory of", path, errno);
}

std::optional<std::string> readFileIfExists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot read", path, errno);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("cannot read", path, EIO);
  return buffer.str();
}

std::string processUser() {
  struct passwd entry {};
  struct passwd* found = nullptr;
  char buffer[1024];
  uid_t uid = ::geteuid();
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found) return found->pw_name;
  return "uid " + std::to_string(uid);
}

}  // namespace etl
