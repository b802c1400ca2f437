// Reads lines from a plain or gzip file, knowing at every moment how far it is in both the
// uncompressed data (the checkpoint offset) and the file itself (for error messages). Damage (a
// corrupt deflate stream, a file cut short, bad gzip framing) is reported as DamagedInput with
// both offsets, after every complete line before it was returned.
//
// Memory is bounded by the limits, not by the file: a line longer than LineLimits::maxBytes is
// read through to its newline without being kept (a gzip file of a few MB can hold a GiB without
// a newline), and only its first keepBytes come back.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
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

struct LineLimits {
  // A line of more bytes than this (its newline not counted) is not kept: next() says TooLong.
  uint64_t maxBytes = std::numeric_limits<uint64_t>::max();
  // What next() returns of a line that is too long: its first bytes, at most this many.
  std::size_t keepBytes = 1024;
  // Capacity each returned line has beyond its bytes, so that its consumer can adopt the buffer
  // as is (etl::Record wants room for the JSON parser's padding).
  std::size_t spareCapacity = 0;
  // A growing plain file: a last line without its newline is not a line yet. next() says End and
  // keeps it; once the file has grown, the next call goes on with it.
  bool waitForNewline = false;
};

class LineReader {
 public:
  enum class Result {
    Line,     // a whole line
    TooLong,  // a line longer than maxBytes: only its first keepBytes
    End,      // the end of the file
  };

  // Opens `path` (gzip when it ends in .gz) and skips `offset` uncompressed bytes. Throws
  // std::runtime_error when the file cannot be opened, DamagedInput when it is damaged before
  // `offset`.
  LineReader(const std::string& path, uint64_t offset, LineLimits limits = {});
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its newline, in a buffer of its own that `line` takes over (nothing is
  // kept for the next call): its capacity is at least its size plus spareCapacity and at most
  // twice that. A last line without a newline counts. Throws DamagedInput (what there is of the
  // line is in partialLine()).
  Result next(std::string& line);
  uint64_t offset() const { return offset_; }  // uncompressed bytes of the lines returned
  const std::string& partialLine() const { return pending_; }
  // With waitForNewline: a line without its newline is held (its bytes are in partialLine()).
  bool holdsPartialLine() const { return holding_; }
  // Gives up waiting: the held line, as a last line without a newline (its writer is gone).
  Result releasePartialLine(std::string& line);
  // The open file's size and modification time (ns) now, whatever its name leads to since.
  uint64_t fileSize() const;
  int64_t fileModified() const;
  // Up to `n` bytes of the open file from `at` (its first bytes, to tell whether it was rewritten
  // under the reader): how many there were.
  std::size_t peek(uint64_t at, char* out, std::size_t n) const;

  // About the line next() returned last:
  uint64_t lineStart() const { return lineStart_; }  // its first byte, uncompressed
  uint64_t lineBytes() const { return lineBytes_; }  // its length (all of it when TooLong)
  // 1 for the file's first line; nullopt when the lines before the reader's starting offset were
  // not counted (a plain file opened at a checkpoint is not read from its start).
  std::optional<uint64_t> lineNumber() const {
    return linesCounted_ ? std::optional<uint64_t>(lines_) : std::nullopt;
  }

 private:
  bool fill();  // more uncompressed bytes into buffer_; false at a clean end
  // The next n bytes of the current line; `last` when its newline follows them.
  void take(const char* data, std::size_t n, bool last);
  Result finish(std::string& line, bool newline);
  [[noreturn]] void damaged(const std::string& what);

  std::string path_;
  LineLimits limits_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  z_stream zs_{};
  bool inflating_ = false;  // inside a gzip member
  std::vector<unsigned char> in_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;  // unread part of buffer_
  std::string pending_;              // the line being read (its first keepBytes once too long)
  bool tooLong_ = false;             // the line being read passed maxBytes
  uint64_t offset_ = 0;
  uint64_t fileOffset_ = 0;  // compressed bytes consumed by zlib
  uint64_t lineStart_ = 0, lineBytes_ = 0;
  uint64_t lines_ = 0;  // lines returned, and skipped on the way to the starting offset
  bool linesCounted_ = true;
  bool holding_ = false;  // next() goes on with a line begun before the end of the file
};

}  // namespace etl_file
