#include "large_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>

namespace etltest {

LargeFile::LargeFile(const std::string& path, int level) : path_(path) {
  bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gzip) {
    gz_ = gzopen(path.c_str(), ("wb" + std::to_string(level)).c_str());
  } else {
    plain_ = std::fopen(path.c_str(), "wb");
  }
  if (!gz_ && !plain_) throw std::runtime_error("cannot create " + path);
}

LargeFile::~LargeFile() {
  try {
    close();
  } catch (...) {
  }
}

LargeFile& LargeFile::write(std::string_view bytes) {
  bool ok = gz_ ? gzwrite(gz_, bytes.data(), static_cast<unsigned>(bytes.size())) ==
                      static_cast<int>(bytes.size())
                : std::fwrite(bytes.data(), 1, bytes.size(), plain_) == bytes.size();
  if (!bytes.empty() && !ok) throw std::runtime_error("cannot write " + path_);
  return *this;
}

LargeFile& LargeFile::repeat(char byte, uint64_t count) {
  const std::string piece(std::min<uint64_t>(count, 1 << 20), byte);
  for (uint64_t left = count; left > 0;) {
    std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(left, piece.size()));
    write(std::string_view(piece.data(), n));
    left -= n;
  }
  return *this;
}

namespace {
uint64_t sizeOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw std::runtime_error("no " + path);
  return static_cast<uint64_t>(info.st_size);
}
}  // namespace

uint64_t LargeFile::flush() {
  bool ok = gz_ ? gzflush(gz_, Z_SYNC_FLUSH) == Z_OK : plain_ && std::fflush(plain_) == 0;
  if (!ok) throw std::runtime_error("cannot flush " + path_);
  return sizeOf(path_);
}

uint64_t LargeFile::close() {
  int failed = 0;
  if (gz_) failed = gzclose(gz_) != Z_OK;
  if (plain_) failed = std::fclose(plain_) != 0;
  bool wasOpen = gz_ || plain_;
  gz_ = nullptr;
  plain_ = nullptr;
  if (failed) throw std::runtime_error("cannot finish " + path_);
  return wasOpen ? sizeOf(path_) : 0;
}

}  // namespace etltest
