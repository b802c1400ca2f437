#include "line_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fingerprint.h"

namespace etl_file {
namespace {
constexpr std::size_t kChunk = 1 << 16;
}

LineReader::LineReader(const std::string& path, uint64_t offset, LineLimits limits)
    : path_(path), limits_(limits), in_(kChunk), buffer_(kChunk) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  gzip_ = isGzipName(path);
  if (gzip_) {
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) {  // 15 + 16: gzip framing only
      std::fclose(file_);
      throw std::runtime_error("cannot start decompressing " + path);
    }
    inflating_ = true;
  } else if (offset > 0) {
    // A plain file shorter than its checkpoint was replaced or cut: say so, never skip silently.
    if (std::fseek(file_, 0, SEEK_END) != 0 || static_cast<uint64_t>(std::ftell(file_)) < offset) {
      uint64_t size = static_cast<uint64_t>(std::max<long>(0, std::ftell(file_)));
      std::fclose(file_);
      file_ = nullptr;
      throw DamagedInput(path + ": has " + std::to_string(size) + " bytes, fewer than its " +
                             "checkpoint's " + std::to_string(offset) +
                             ": the file was replaced or cut",
                         size, size);
    }
    if (std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0) {
      std::fclose(file_);
      file_ = nullptr;
      throw std::runtime_error("cannot seek in " + path + ": " + std::strerror(errno));
    }
  }
  if (!gzip_) {
    offset_ = offset;
    linesCounted_ = offset == 0;  // counting the lines before it would read them all
    return;
  }
  // A compressed file cannot seek: decompress and drop what was already committed.
  try {
    while (offset_ < offset) {
      if (begin_ == end_ && !fill()) {
        damaged("ends at uncompressed byte " + std::to_string(offset_) +
                ", before its checkpoint (" + std::to_string(offset) +
                "): the file was replaced or cut");
      }
      std::size_t skip =
          static_cast<std::size_t>(std::min<uint64_t>(end_ - begin_, offset - offset_));
      // The data passes by anyway: counted, its lines keep their numbers in messages.
      const char* data = buffer_.data() + begin_;
      lines_ += static_cast<uint64_t>(std::count(data, data + skip, '\n'));
      begin_ += skip;
      offset_ += skip;
    }
  } catch (...) {
    // No destructor runs for a constructor that throws.
    inflateEnd(&zs_);
    std::fclose(file_);
    throw;
  }
}

LineReader::~LineReader() {
  if (gzip_) inflateEnd(&zs_);
  if (file_) std::fclose(file_);
}

void LineReader::damaged(const std::string& what) {
  throw DamagedInput(path_ + ": " + what + " (at byte " + std::to_string(fileOffset_) +
                         " of the file; lines up to uncompressed byte " + std::to_string(offset_) +
                         " were read)",
                     fileOffset_, offset_);
}

bool LineReader::fill() {
  begin_ = end_ = 0;
  if (!gzip_) {
    std::size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (n == 0 && std::ferror(file_)) {
      throw std::runtime_error("read error in " + path_ + ": " + std::strerror(errno));
    }
    end_ = n;
    fileOffset_ += n;
    return n > 0;
  }
  while (end_ == 0) {
    if (zs_.avail_in == 0) {
      std::size_t n = std::fread(in_.data(), 1, in_.size(), file_);
      if (n == 0 && std::ferror(file_)) {
        throw std::runtime_error("read error in " + path_ + ": " + std::strerror(errno));
      }
      if (n == 0) {
        if (inflating_) damaged("the gzip stream is truncated (the file ends before its end)");
        return false;  // clean end after the last member
      }
      zs_.next_in = in_.data();
      zs_.avail_in = static_cast<uInt>(n);
    }
    if (!inflating_) {
      // Another gzip member follows (concatenated .gz files are valid gzip).
      if (inflateReset(&zs_) != Z_OK) damaged("cannot restart decompression");
      inflating_ = true;
    }
    zs_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
    zs_.avail_out = static_cast<uInt>(buffer_.size());
    uInt before = zs_.avail_in;
    int status = inflate(&zs_, Z_NO_FLUSH);
    fileOffset_ += before - zs_.avail_in;
    end_ = buffer_.size() - zs_.avail_out;
    if (status == Z_STREAM_END) {
      inflating_ = false;
    } else if (status == Z_DATA_ERROR || status == Z_NEED_DICT || status == Z_MEM_ERROR) {
      damaged(std::string("corrupt gzip data: ") + (zs_.msg ? zs_.msg : "data error"));
    } else if (status == Z_BUF_ERROR && zs_.avail_in > 0 && end_ == 0) {
      damaged("corrupt gzip data: decompression made no progress");
    }
  }
  return true;
}

LineReader::Result LineReader::next(std::string& line) {
  if (!holding_) {
    pending_.clear();
    tooLong_ = false;
    lineStart_ = offset_;
    lineBytes_ = 0;
  }
  holding_ = false;
  while (true) {
    if (begin_ == end_ && !fill()) {  // on damage, pending_ keeps the partial line for the caller
      // A plain file may grow: the next read goes on from here, past the end seen now.
      if (!gzip_) std::clearerr(file_);
      if (lineBytes_ == 0) return Result::End;
      if (limits_.waitForNewline && !gzip_) {
        holding_ = true;
        return Result::End;
      }
      return finish(line, false);  // a last line without a newline
    }
    const char* start = buffer_.data() + begin_;
    const void* newline = std::memchr(start, '\n', end_ - begin_);
    std::size_t n = newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - start)
                            : end_ - begin_;
    take(start, n, newline != nullptr);
    begin_ += n;
    if (newline) {
      ++begin_;
      return finish(line, true);
    }
  }
}

void LineReader::take(const char* data, std::size_t n, bool last) {
  lineBytes_ += n;
  if (tooLong_) return;  // read through, not kept: memory stays bounded whatever the line holds
  if (n == 0) return;    // an empty line, or a newline first in the buffer: nothing to keep
  if (lineBytes_ > limits_.maxBytes) {
    // Keep the first bytes for the caller to show, and let go of the buffer that held the rest.
    std::string head;
    head.reserve(limits_.keepBytes + limits_.spareCapacity);
    head.append(pending_, 0, std::min(pending_.size(), limits_.keepBytes));
    head.append(data, std::min(n, limits_.keepBytes - head.size()));
    pending_.swap(head);
    tooLong_ = true;
    return;
  }
  std::size_t needed = pending_.size() + n + limits_.spareCapacity;
  if (needed > pending_.capacity()) {
    // The line's last bytes: exactly what it needs (a line within one buffer, nearly all of
    // them, gets one exact allocation). Otherwise doubling, for few reallocations, but never
    // beyond what a line that is kept can need. Either way the capacity stays within twice the
    // line's size (plus spare), so its consumer can adopt the buffer instead of copying it.
    uint64_t wanted = needed;
    if (!last) {
      uint64_t most = limits_.maxBytes + limits_.spareCapacity;
      if (most < limits_.maxBytes) most = std::numeric_limits<uint64_t>::max();  // no limit
      wanted = std::max<uint64_t>(
          needed, std::min<uint64_t>(2 * static_cast<uint64_t>(pending_.capacity()), most));
    }
    // A new buffer of exactly that: reserve() on a string that has one may round up to double.
    std::string grown;
    grown.reserve(static_cast<std::size_t>(wanted));
    grown.append(pending_);
    pending_.swap(grown);
  }
  pending_.append(data, n);
}

LineReader::Result LineReader::releasePartialLine(std::string& line) {
  if (!holding_) return Result::End;
  holding_ = false;
  return finish(line, false);
}

uint64_t LineReader::fileSize() const {
  struct stat info {};
  if (::fstat(::fileno(file_), &info) != 0) return 0;
  return static_cast<uint64_t>(info.st_size);
}

std::size_t LineReader::peek(uint64_t at, char* out, std::size_t n) const {
  ssize_t got = ::pread(::fileno(file_), out, n, static_cast<off_t>(at));
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

int64_t LineReader::fileModified() const {
  struct stat info {};
  if (::fstat(::fileno(file_), &info) != 0) return 0;
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec;
}

LineReader::Result LineReader::finish(std::string& line, bool newline) {
  offset_ += lineBytes_ + (newline ? 1 : 0);
  ++lines_;
  // `line` takes the buffer, and nothing of it stays here (nor `line`'s old buffer).
  std::string out;
  out.swap(pending_);
  line.swap(out);
  return tooLong_ ? Result::TooLong : Result::Line;
}

}  // namespace etl_file
