// Reads lines from a plain or gzip file, knowing at every moment how far it is in both the
// uncompressed data (the checkpoint offset) and the file itself (for error messages). Damage (a
// corrupt deflate stream, a file cut short, bad gzip framing) is reported as DamagedInput with
// both offsets, after every complete line before it was returned.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace etl_file {

class DamagedInput : public std::runtime_error {
 public:
  DamagedInput(const std::string& what, uint64_t fileOffset, uint64_t dataOffset)
      : std::runtime_error(what), fileOffset(fileOffset), dataOffset(dataOffset) {}
  uint64_t fileOffset;  // byte of the file where the damage was found
  uint64_t dataOffset;  // uncompressed bytes of complete lines before it
};

class LineReader {
 public:
  // Opens `path` (gzip when it ends in .gz) and skips `offset` uncompressed bytes. Throws
  // std::runtime_error when the file cannot be opened, DamagedInput when it is damaged before
  // `offset`.
  LineReader(const std::string& path, uint64_t offset);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its newline; false at the end of the file. A last line without a
  // newline counts. Throws DamagedInput (the partial line is in partialLine()).
  bool next(std::string& line);
  uint64_t offset() const { return offset_; }  // uncompressed bytes of the lines returned
  const std::string& partialLine() const { return pending_; }

 private:
  bool fill();  // more uncompressed bytes into buffer_; false at a clean end
  [[noreturn]] void damaged(const std::string& what);

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  z_stream zs_{};
  bool inflating_ = false;  // inside a gzip member
  std::vector<unsigned char> in_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;  // unread part of buffer_
  std::string pending_;              // a line continued across buffer refills
  uint64_t offset_ = 0;
  uint64_t fileOffset_ = 0;  // compressed bytes consumed by zlib
};

}  // namespace etl_file
