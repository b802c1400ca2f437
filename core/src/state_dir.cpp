#include "state_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "etl/files.h"

namespace etl {
namespace {

std::string reason(int error) {
  switch (error) {
    case EACCES:
    case EPERM:
      return "permission denied (etlrun runs as user '" + etl::processUser() + "')";
    case EROFS:
      return "read-only file system";
    case ENOSPC:
      return "no space left on the device";
    case EDQUOT:
      return "disk quota exceeded";
    default:
      return std::strerror(error);
  }
}

[[noreturn]] void fail(const std::string& dir, const std::string& what) {
  throw std::runtime_error("the state directory " + dir + " (state_dir, or --state-dir) " + what);
}

}  // namespace

void checkStateDir(const std::string& dir) {
  if (dir.empty())
    throw std::runtime_error("the state directory (state_dir, or --state-dir) is empty");
  // Like mkdir -p, one level at a time, so that the level that is in the way can be named.
  std::string::size_type end = 0;
  while (end != std::string::npos) {
    end = dir.find('/', end + 1);
    std::string level = dir.substr(0, end);
    if (level.empty() || level == "." || level == "..") continue;
    struct stat info {};
    if (::stat(level.c_str(), &info) == 0) {
      if (!S_ISDIR(info.st_mode)) fail(dir, "cannot be created: " + level + " is not a directory");
      continue;
    }
    if (errno != ENOENT) fail(dir, "cannot be reached: " + level + ": " + reason(errno));
    if (::mkdir(level.c_str(), 0777) != 0 && errno != EEXIST) {
      fail(dir, "cannot be created: " + reason(errno));
    }
  }
  // Permission bits do not tell everything (a read-only mount, an immutable folder, ACLs): a file
  // created and removed does.
  std::string pattern = dir + "/.etlrun-write-check-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) fail(dir, "cannot be written: " + reason(errno));
  ::close(fd);
  ::unlink(name.data());
}

}  // namespace etl
