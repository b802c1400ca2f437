// Files larger than a test wants to hold in memory (a gzip bomb: a GiB without a newline), written
// piece by piece; a path ending in .gz is gzip, through zlib's streaming writer.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace etltest {

class LargeFile {
 public:
  // `level`: gzip's compression level (1 is fast, and still makes a GiB of one byte a few MB).
  explicit LargeFile(const std::string& path, int level = 1);
  ~LargeFile();
  LargeFile(const LargeFile&) = delete;
  LargeFile& operator=(const LargeFile&) = delete;

  LargeFile& write(std::string_view bytes);
  LargeFile& repeat(char byte, uint64_t count);  // `count` times `byte`, a MiB at a time
  // Everything written so far can be read from the file as it is now (for gzip: a sync flush
  // ends the deflate block). Returns its size on disk: a test that cuts the file there or after
  // keeps every byte written before.
  uint64_t flush();
  // Ends the file; a gzip file is then complete (its trailer written). Returns its size on disk.
  uint64_t close();

 private:
  std::string path_;
  gzFile gz_ = nullptr;
  std::FILE* plain_ = nullptr;
};

}  // namespace etltest
